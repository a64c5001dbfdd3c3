package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/agent/update"
	"edge-agent/internal/sshtest"
)

// buildAgent builds this command with version linked in, as make does.
func buildAgent(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "edge-agent-"+version)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X edge-agent/agent.version="+version, "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", version, err, b)
	}
	return out
}

// offered is a binary an operator offers: served over HTTP with its
// signature beside it, and the update command's args.
type offered struct {
	version, url, sha string
	size              int64
}

func (r offered) args() []string {
	return []string{r.version, r.url, strconv.FormatInt(r.size, 10), r.sha}
}

// offerServer serves binaries and their .sig files from a directory.
type offerServer struct {
	dir string
	srv *httptest.Server
}

func serveOffers(t *testing.T) *offerServer {
	t.Helper()
	r := &offerServer{dir: t.TempDir()}
	r.srv = httptest.NewServer(http.FileServer(http.Dir(r.dir)))
	t.Cleanup(r.srv.Close)
	return r
}

// offer copies bin as name, signed by k in the update namespace, and
// announces it as version.
func (r *offerServer) offer(t *testing.T, name, bin string, k sshtest.Key, version string) offered {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sig := sshtest.Sign(t, k, update.Namespace, data)
	if err := os.WriteFile(filepath.Join(r.dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, name+".sig"), []byte(sig), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return offered{version: version, url: r.srv.URL + "/" + name, sha: hex.EncodeToString(sum[:]), size: int64(len(data))}
}

// notifySocket is a socket in systemd's place, collecting what the agent
// sends to $NOTIFY_SOCKET.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(t.TempDir(), "notify")}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return n
}

// count is how many messages were exactly msg.
func (n *notifySocket) count(msg string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, m := range n.msgs {
		if m == msg {
			k++
		}
	}
	return k
}

func (n *notifySocket) all() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, " | ")
}

// deviceState is the part of the state document the update tests read.
type deviceState struct {
	Version string `json:"version"`
	GOARCH  string `json:"goarch"`
	Update  struct {
		Enabled         bool   `json:"enabled"`
		Slot            string `json:"slot"`
		PreviousVersion string `json:"previous_version"`
		Trial           bool   `json:"trial"`
		Last            *struct {
			From, To, Result, Reason string
		} `json:"last"`
	} `json:"update"`
}

// stateWhere waits for a state document that satisfies ok.
func (o *operator) stateWhere(t *testing.T, device string, ok func(deviceState) bool) deviceState {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st deviceState
		m := o.next(t, "edge/"+device+"/state", nil)
		if err := json.Unmarshal(m.Payload(), &st); err != nil {
			t.Fatalf("state %s: %v", m.Payload(), err)
		}
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("last state %s", m.Payload())
		}
	}
}

// eventData waits for an event of kind and returns its data.
func (o *operator) eventData(t *testing.T, device, kind string, ok func(map[string]string) bool) map[string]string {
	t.Helper()
	var data map[string]string
	o.next(t, "edge/"+device+"/events/"+kind, func(m paho.Message) bool {
		var e struct {
			Data map[string]string `json:"data"`
		}
		if err := json.Unmarshal(m.Payload(), &e); err != nil {
			t.Fatalf("event %s: %v", m.Payload(), err)
		}
		data = e.Data
		return ok == nil || ok(data)
	})
	return data
}
