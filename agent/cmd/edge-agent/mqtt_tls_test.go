package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, and returns the CA pool with the paths of the PEM files.
func writeCerts(t *testing.T, dir string) (pool *x509.CertPool, ca, cert, key, clientCert, clientKey string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(srvKey)
	cliKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cliTmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "edge-agent"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	cliDER, err := x509.CreateCertificate(rand.Reader, cliTmpl, caCert, &cliKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644)
		return p
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return pool, write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "EC PRIVATE KEY", keyDER),
		write("client.pem", "CERTIFICATE", cliDER), write("client.key", "EC PRIVATE KEY", cliKeyDER)
}

// runMosquitto starts mosquitto with conf until the test ends and waits
// for addr to accept connections.
func runMosquitto(t *testing.T, conf, addr string) {
	t.Helper()
	path := testenv.Program(t, "mosquitto", "mosquitto", "/usr/sbin/mosquitto")
	file := filepath.Join(t.TempDir(), "mosquitto.conf")
	os.WriteFile(file, []byte(conf), 0o644)
	cmd := exec.Command(path, "-c", file)
	out := new(lockedWriter)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("mosquitto:\n%s", out.String())
		}
	})
	testenv.WaitFor(t, "mosquitto to listen on "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// The agent reaches brokers over TLS (with its own CA file) and over
// WebSockets.
func TestTLSAndWebSocketBrokers(t *testing.T) {
	dir := t.TempDir()
	pool, ca, cert, key, cliCert, cliKey := writeCerts(t, dir)
	watcherCert, err := tls.LoadX509KeyPair(cliCert, cliKey)
	if err != nil {
		t.Fatal(err)
	}
	free := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	for _, tc := range []struct {
		name, scheme string
		conf         func(port string) string
		env          []string
		tls          bool
	}{
		// "user root": run as root, mosquitto drops to its own user,
		// which cannot read the test's private directory.
		{"ssl", "ssl", func(port string) string {
			return fmt.Sprintf("log_dest stderr\nuser root\nlistener %s 127.0.0.1\nallow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s\n", port, ca, cert, key)
		}, []string{"EDGE_MQTT_CA_FILE=" + ca}, true},
		// The broker wants a client certificate too.
		{"mutual-tls", "ssl", func(port string) string {
			return fmt.Sprintf("log_dest stderr\nuser root\nlistener %s 127.0.0.1\nallow_anonymous true\nrequire_certificate true\ncafile %s\ncertfile %s\nkeyfile %s\n", port, ca, cert, key)
		}, []string{"EDGE_MQTT_CA_FILE=" + ca, "EDGE_MQTT_CERT_FILE=" + cliCert, "EDGE_MQTT_KEY_FILE=" + cliKey}, true},
		{"websockets", "ws", func(port string) string {
			// mosquitto 2.0's websockets listener takes its address from
			// bind_address only.
			return fmt.Sprintf("listener %s\nbind_address 127.0.0.1\nprotocol websockets\nallow_anonymous true\n", port)
		}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := free()
			_, port, _ := net.SplitHostPort(addr)
			runMosquitto(t, tc.conf(port), addr)
			url := tc.scheme + "://" + addr
			if tc.scheme == "ws" {
				url += "/mqtt"
			}
			o := paho.NewClientOptions().AddBroker(url).SetClientID("watch-" + tc.name)
			if tc.tls {
				o.SetTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{watcherCert}})
			}
			c := paho.NewClient(o)
			if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("watcher: %v", tok.Error())
			}
			defer c.Disconnect(100)
			online := make(chan struct{}, 1)
			c.Subscribe("edge/"+tc.name+"/availability", 1, func(_ paho.Client, m paho.Message) {
				if string(m.Payload()) == "online" {
					select {
					case online <- struct{}{}:
					default:
					}
				}
			}).WaitTimeout(10 * time.Second)
			env := append([]string{"EDGE_MQTT_URL=" + url, "EDGE_DEVICE_ID=" + tc.name,
				"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, tc.env...)
			startCommand(t, command(context.Background(), env, "run"), "mqtt")
			select {
			case <-online:
			case <-time.After(15 * time.Second):
				t.Fatalf("the agent did not come online over %s", tc.scheme)
			}
		})
	}
}

// lockedWriter collects a process's output for the test log.
type lockedWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

// A broker that wants a user name and password: the agent reads the
// password from EDGE_MQTT_PASSWORD_FILE.
func TestBrokerWithPassword(t *testing.T) {
	passwd := testenv.Program(t, "mosquitto", "mosquitto_passwd", "/usr/bin/mosquitto_passwd")
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "passwords")
	if out, err := exec.Command(passwd, "-b", "-c", pwFile, "agent", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	runMosquitto(t, fmt.Sprintf("log_dest stderr\nuser root\nlistener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port, pwFile), addr)
	url := "tcp://" + addr
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("watch-pw").SetUsername("agent").SetPassword("s3cret"))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher: %v", tok.Error())
	}
	defer c.Disconnect(100)
	online := make(chan struct{}, 1)
	c.Subscribe("edge/secured/availability", 1, func(_ paho.Client, m paho.Message) {
		if string(m.Payload()) == "online" {
			select {
			case online <- struct{}{}:
			default:
			}
		}
	}).WaitTimeout(10 * time.Second)
	secret := filepath.Join(dir, "mqtt-password")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	env := []string{"EDGE_MQTT_URL=" + url, "EDGE_DEVICE_ID=secured", "EDGE_MQTT_USERNAME=agent", "EDGE_MQTT_PASSWORD_FILE=" + secret,
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}
	startCommand(t, command(context.Background(), env, "run"), "mqtt")
	select {
	case <-online:
	case <-time.After(15 * time.Second):
		t.Fatal("the agent did not come online with its password")
	}
	// A password file that cannot be read stops the start-up with a reason.
	out, err := command(context.Background(), []string{"EDGE_MQTT_URL=" + url, "EDGE_MQTT_PASSWORD_FILE=" + filepath.Join(dir, "missing"),
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off", "EDGE_LOG_LEVEL=error"}, "run").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "EDGE_MQTT_PASSWORD_FILE") {
		t.Errorf("missing password file: %v %s", err, out)
	}
}
