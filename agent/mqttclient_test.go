package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key as PEM files.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key
}

func TestMQTTClientFilesLoad(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("s3cret\r\n"), 0o600)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not PEM\n"), 0o644)
	missing := filepath.Join(dir, "missing")
	named := func(path, name string) MQTTFile { return MQTTFile{Path: path, Name: name} }

	for _, tc := range []struct {
		name     string
		files    MQTTClientFiles
		password string
		tls      bool
		certs    int
		err      string // the message holds it
		errFile  string // the name the error carries
		errIs    error
	}{
		{name: "nothing"},
		{name: "password without line end", files: MQTTClientFiles{Password: named(pw, "--password-file")}, password: "s3cret"},
		{name: "CA only", files: MQTTClientFiles{CA: named(cert, "EDGE_MQTT_CA_FILE")}, tls: true},
		{name: "client certificate", files: MQTTClientFiles{Cert: named(cert, "c"), Key: named(key, "k")}, tls: true, certs: 1},
		{name: "everything", files: MQTTClientFiles{Password: named(pw, "p"), CA: named(cert, "a"), Cert: named(cert, "c"), Key: named(key, "k")},
			password: "s3cret", tls: true, certs: 1},
		{name: "missing password file", files: MQTTClientFiles{Password: named(missing, "EDGE_MQTT_PASSWORD_FILE")},
			err: "mqtt: cannot read " + missing + " (EDGE_MQTT_PASSWORD_FILE)", errFile: "EDGE_MQTT_PASSWORD_FILE", errIs: fs.ErrNotExist},
		{name: "missing CA file", files: MQTTClientFiles{CA: named(missing, "--ca-file")}, err: "cannot read", errFile: "--ca-file", errIs: fs.ErrNotExist},
		{name: "CA file without PEM", files: MQTTClientFiles{CA: named(garbage, "--ca-file")}, err: "cannot use " + garbage + " (--ca-file): no PEM certificate in it", errFile: "--ca-file"},
		{name: "certificate without key", files: MQTTClientFiles{Cert: named(cert, "--cert-file"), Key: named("", "--key-file")},
			err: "(--cert-file): set --key-file too", errFile: "--cert-file"},
		{name: "key without certificate", files: MQTTClientFiles{Cert: named("", "EDGE_MQTT_CERT_FILE"), Key: named(key, "EDGE_MQTT_KEY_FILE")},
			err: "(EDGE_MQTT_KEY_FILE): set EDGE_MQTT_CERT_FILE too", errFile: "EDGE_MQTT_KEY_FILE"},
		{name: "key that is not a key", files: MQTTClientFiles{Cert: named(cert, "--cert-file"), Key: named(garbage, "--key-file")},
			err: "cannot use " + cert + " (--cert-file)", errFile: "--cert-file"},
		{name: "certificate that is a key", files: MQTTClientFiles{Cert: named(key, "--cert-file"), Key: named(key, "--key-file")},
			err: "(--cert-file)", errFile: "--cert-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			password, conf, err := tc.files.Load()
			if tc.err != "" {
				var fe *MQTTFileError
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &fe) || fe.File.Name != tc.errFile {
					t.Fatalf("err %v, want an *MQTTFileError for %s saying %q", err, tc.errFile, tc.err)
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("err %v is not %v", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if password != tc.password || (conf != nil) != tc.tls {
				t.Fatalf("password %q, TLS %v; want %q, %v", password, conf != nil, tc.password, tc.tls)
			}
			if conf != nil && len(conf.Certificates) != tc.certs {
				t.Errorf("%d client certificates, want %d", len(conf.Certificates), tc.certs)
			}
			if conf != nil && (tc.files.CA.Path != "") != (conf.RootCAs != nil) {
				t.Errorf("RootCAs %v with CA file %q", conf.RootCAs != nil, tc.files.CA.Path)
			}
		})
	}
}

// The agent names its files by their variables.
func TestMQTTConfigClientFiles(t *testing.T) {
	f := MQTTConfig{PasswordFile: "/p", CAFile: "/a", CertFile: "/c", KeyFile: "/k"}.ClientFiles()
	want := MQTTClientFiles{
		Password: MQTTFile{"/p", "EDGE_MQTT_PASSWORD_FILE"}, CA: MQTTFile{"/a", "EDGE_MQTT_CA_FILE"},
		Cert: MQTTFile{"/c", "EDGE_MQTT_CERT_FILE"}, Key: MQTTFile{"/k", "EDGE_MQTT_KEY_FILE"},
	}
	if f != want {
		t.Errorf("ClientFiles = %+v, want %+v", f, want)
	}
}
