// Package sshtest runs OpenSSH's own tools for tests: ssh-keygen to make
// keys, sign and verify SSHSIG signatures, and an ssh-agent of the test's
// own. They come from Debian's openssh-client; without it a test is
// skipped, and fails under CI=true (transport/testenv).
package sshtest

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"edge-agent/transport/testenv"
)

// Key is a key pair made by ssh-keygen, without a passphrase.
type Key struct {
	// Path is the private key file; Path+".pub" is the public one.
	Path string
	// AuthorizedLine is the public key as an authorized_keys line,
	// "type base64 comment", without a newline.
	AuthorizedLine string
}

func keygen(t testing.TB) string {
	t.Helper()
	return testenv.Program(t, "openssh-client", "ssh-keygen")
}

// NewKey makes a key of type typ (ed25519, rsa, ecdsa) in a directory of
// the test's own, with comment as its comment. RSA keys have 2048 bits.
func NewKey(t testing.TB, typ, comment string) Key {
	t.Helper()
	path := filepath.Join(t.TempDir(), "id_"+typ)
	args := []string{"-q", "-t", typ, "-N", "", "-C", comment, "-f", path}
	if typ == "rsa" {
		// The smallest size the agent accepts: quicker to make than
		// ssh-keygen's default of 3072 bits.
		args = append(args, "-b", "2048")
	}
	run(t, nil, keygen(t), args...)
	pub, err := os.ReadFile(path + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return Key{Path: path, AuthorizedLine: strings.TrimSpace(string(pub))}
}

// Sign signs data with ssh-keygen -Y sign -n namespace and returns the
// armored signature, as ssh-keygen writes it to FILE.sig.
func Sign(t testing.TB, k Key, namespace string, data []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "cmd")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, nil, keygen(t), "-q", "-Y", "sign", "-n", namespace, "-f", k.Path, file)
	sig, err := os.ReadFile(file + ".sig")
	if err != nil {
		t.Fatal(err)
	}
	return string(sig)
}

// Payload returns the signed-mode payload for the command text signed by
// k with ssh-keygen, in the namespace edge-agent: what an operator
// signing by hand sends.
func Payload(t testing.TB, k Key, text string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]string{"command": text, "signature": Sign(t, k, "edge-agent", []byte(text))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Verify checks an armored signature over data with ssh-keygen -Y verify,
// with an allowed_signers file that lets k sign for namespace as
// principal. It returns ssh-keygen's output and its error.
func Verify(t testing.TB, k Key, principal, namespace string, data []byte, sig string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	allowed := filepath.Join(dir, "allowed_signers")
	line := fmt.Sprintf("%s namespaces=%q %s\n", principal, namespace, k.AuthorizedLine)
	if err := os.WriteFile(allowed, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	sigFile := filepath.Join(dir, "cmd.sig")
	if err := os.WriteFile(sigFile, []byte(sig), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(keygen(t), "-Y", "verify", "-f", allowed, "-I", principal, "-n", namespace, "-s", sigFile)
	cmd.Stdin = strings.NewReader(string(data))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Agent is an ssh-agent of one test's own.
type Agent struct {
	// Socket is its SSH_AUTH_SOCK.
	Socket string
	t      testing.TB
}

// StartAgent runs ssh-agent on a socket in a directory of the test's own
// until the test ends.
func StartAgent(t testing.TB) *Agent {
	t.Helper()
	path := testenv.Program(t, "openssh-client", "ssh-agent")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	testenv.StartDaemon(t, "ssh-agent", exec.Command(path, "-D", "-a", sock))
	testenv.WaitFor(t, "ssh-agent to listen on "+sock, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return &Agent{Socket: sock, t: t}
}

// Add loads k into the agent with ssh-add.
func (a *Agent) Add(k Key) {
	a.t.Helper()
	path := testenv.Program(a.t, "openssh-client", "ssh-add")
	run(a.t, []string{"SSH_AUTH_SOCK=" + a.Socket}, path, "-q", k.Path)
}

func run(t testing.TB, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}
