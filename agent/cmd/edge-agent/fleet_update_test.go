package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"edge-agent/agent/authz"
	"edge-agent/agent/update"
	"edge-agent/internal/sshtest"
	"edge-agent/transport/testenv"
)

// updateDevice plays, on a broker, a device that takes an update the
// way the agent does as far as the operator can see: it checks the
// signed command with authorized_keys, fetches the binary and its
// signature from the URL, checks size, SHA-256 and signature, then
// answers, reports its phases and publishes a state on the new version.
// A failed check is answered with a refusal naming it.
type updateDevice struct {
	t    *testing.T
	c    paho.Client
	keys *authz.Keys
	pub  ssh.PublicKey
	// target is each device's, by id.
	target map[string]update.Target
}

func startUpdateDevices(t *testing.T, url string, key sshtest.Key, target map[string]update.Target) *updateDevice {
	t.Helper()
	keys, err := authz.ParseAuthorizedKeys([]byte(key.AuthorizedLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(key.AuthorizedLine))
	if err != nil {
		t.Fatal(err)
	}
	d := &updateDevice{t: t, keys: keys, pub: pub, target: target}
	d.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("update-devices").SetOrderMatters(false))
	if tok := d.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { d.c.Disconnect(100) })
	if tok := d.c.Subscribe("edge/+/cmd/update", 1, d.onCommand); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return d
}

func (d *updateDevice) publish(topic string, retain bool, v any) {
	b, _ := json.Marshal(v)
	d.c.Publish(topic, 1, retain, b).WaitTimeout(10 * time.Second)
}

// state publishes id's retained state, on version.
func (d *updateDevice) state(id, version string, last map[string]any) {
	t := d.target[id]
	doc := map[string]any{"time": time.Now(), "version": version, "goos": t.GOOS, "goarch": t.GOARCH, "agent_uptime_s": 0,
		"update": map[string]any{"enabled": true, "slot": "a", "trial": false, "last": last}}
	if t.GOARM != "" {
		doc["goarm"] = t.GOARM
	}
	d.publish("edge/"+id+"/state", true, doc)
}

func (d *updateDevice) onCommand(_ paho.Client, m paho.Message) {
	id := strings.Split(m.Topic(), "/")[1]
	reply := func(ok bool, counter uint64, code, msg string) {
		d.publish(m.Topic()+"/reply", false, map[string]any{"command": "update", "ok": ok, "code": code, "error": msg,
			"result": map[string]any{"by": ssh.FingerprintSHA256(d.pub), "counter": counter}})
	}
	cmd, _, err := authz.Verify(d.keys, m.Payload(), id, "update")
	if err != nil || len(cmd.Args) != 4 {
		reply(false, cmd.Counter, "malformed", fmt.Sprintf("%v %q", err, cmd.Args))
		return
	}
	version, url, size, sum := cmd.Args[0], cmd.Args[1], cmd.Args[2], cmd.Args[3]
	reply(true, cmd.Counter, "", "")
	event := func(kind string, data map[string]any) {
		d.publish("edge/"+id+"/events/"+kind, false, map[string]any{"time": time.Now(), "kind": kind, "data": data})
	}
	event("update", map[string]any{"phase": "downloading", "version": version})
	body, err1 := fetch(url)
	sig, err2 := fetch(url + ".sig")
	event("update", map[string]any{"phase": "verifying", "version": version})
	h := sha256.Sum256(body)
	parsed, err3 := sshsig.Unarmor(sig)
	fail := func(reason string) {
		event("update_failed", map[string]any{"from": "v0", "to": version, "reason": reason})
	}
	switch {
	case err1 != nil || err2 != nil || err3 != nil:
		fail(fmt.Sprintf("download: %v %v %v", err1, err2, err3))
	case strconv.Itoa(len(body)) != size:
		fail("size: " + size)
	case hex.EncodeToString(h[:]) != sum:
		fail("checksum: " + sum)
	case sshsig.Verify(bytes.NewReader(body), parsed, d.pub, sshsig.HashSHA512, update.Namespace) != nil:
		fail("signature does not verify")
	default:
		event("update", map[string]any{"phase": "restarting", "version": version})
		d.state(id, version, map[string]any{"from": "v0", "to": version, "result": "committed"})
	}
}

func fetch(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func fleetUpdateRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := fleetUpdate(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fleet update over a broker, with a device that fetches and checks what
// it is told to: the binaries signed, served and fetched, the device
// followed to healthy, exit 0. Run again, that device is on the version
// already and one for which there is no binary fails the run.
func TestFleetUpdateCommand(t *testing.T) {
	m := testenv.StartMosquitto(t)
	key := sshtest.NewKey(t, "ed25519", "op@test")
	dir := t.TempDir()
	bin := buildTiny(t, dir, "edge-agent-linux-amd64", amd64, xVersion("v1"), false, "")
	buildTiny(t, dir, "edge-agent-linux-armv6", armv6, xVersion("v1"), false, "")
	os.WriteFile(filepath.Join(dir, "config.md"), []byte("text\n"), 0o644)
	devs := startUpdateDevices(t, m.URL, key, map[string]update.Target{
		"pi-amd64": {GOOS: "linux", GOARCH: "amd64"},
		"pi-zero":  {GOOS: "linux", GOARCH: "arm", GOARM: "7"},
	})
	devs.state("pi-amd64", "v0", nil)
	devs.state("pi-zero", "v0", nil)

	args := []string{"--binaries", dir, "--key", key.Path, "--listen", "127.0.0.1:0", "--broker", m.URL, "--timeout", "20s"}
	code, out, errOut := fleetUpdateRun(t, append(args, "--device", "pi-amd64")...)
	data, _ := os.ReadFile(bin)
	if code != 0 || !containsAll(out,
		"pi-amd64: sent (", "pi-amd64: healthy (",
		"DEVICE    VERSION  STATE    TIME\n", "pi-amd64  v0 → v1  healthy  ",
		"served "+size(int64(len(data))+int64(len(mustRead(t, bin+".sig"))))+": 127.0.0.1 ",
	) || !containsAll(errOut, "ignored in "+dir+": config.md (not a Go program)", "signed edge-agent-linux-amd64.sig", "signed edge-agent-linux-armv6.sig",
		"v1: 2 binaries served on 127.0.0.1:") {
		t.Errorf("fleet update: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	sig := mustRead(t, bin+".sig")
	if o, err := sshtest.Verify(t, key, "op", update.Namespace, data, sig); err != nil {
		t.Errorf("ssh-keygen -Y verify of the signature written: %v\n%s", err, o)
	}

	code, out, errOut = fleetUpdateRun(t, append(args, "--device", "pi-zero", "--device", "pi-amd64")...)
	if code != 1 || !containsAll(out, "pi-amd64  v1 → v1  already on v1", "pi-zero   v0 → v1  no binary for linux/arm GOARM=7", "served: nothing\n") ||
		strings.Contains(errOut, "signed ") {
		t.Errorf("fleet update with no binary for one device: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Mistakes in the command line are exit status 2 with what to do, before
// anything is signed, served or sent.
func TestFleetUpdateUsage(t *testing.T) {
	dir := t.TempDir()
	buildTiny(t, dir, "a", amd64, xVersion("v1"), false, "")
	mixed := t.TempDir()
	buildTiny(t, mixed, "a", amd64, xVersion("v1"), false, "")
	buildTiny(t, mixed, "b", armv6, xVersion("v2"), false, "")
	ok := []string{"--binaries", dir, "--device", "pi", "--listen", "127.0.0.1:0", "--broker", "tcp://127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "pi", "--listen", "127.0.0.1:0"}, "name the directory of the binaries with --binaries DIR"},
		{append(ok, "--all"), "name the devices with --device ID (repeated), or --all"},
		{[]string{"--binaries", dir, "--listen", "127.0.0.1:0"}, "name the devices with --device ID (repeated), or --all"},
		{append(ok, "--listen", ":0"), "--listen :0 is any of this machine's addresses: say which one the devices reach with --url http://ADDRESS-DEVICES-REACH:0"},
		{append(ok, "--canary", "-1"), "--canary must be 0 or more"},
		{append(ok, "--timeout", "0s"), "--timeout must be positive"},
		{append(ok, "extra"), `takes no arguments: "extra"`},
		{append(ok, "--binaries", filepath.Join(dir, "missing")), "--binaries: open "},
		{append(ok, "--binaries", mixed), "the binaries are of different versions: v1 (a); v2 (b)"},
		{append(ok, "--url", "laptop:8999"), `--url "laptop:8999" is not an http:// or https:// URL`},
	} {
		code, _, errOut := fleetUpdateRun(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("fleet update %q: exit %d, stderr %q; want 2 and %q", tc.args, code, errOut, tc.want)
		}
	}
	if names := testenv.DirNames(t, dir); len(names) != 1 {
		t.Errorf("a usage mistake left %v", names)
	}
}
