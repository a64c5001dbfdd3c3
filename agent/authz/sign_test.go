package authz

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"edge-agent/internal/sshtest"
	"edge-agent/transport/testenv"
)

// Sign's payload is what ssh-keygen -Y sign would give: OpenSSH's own
// verifier accepts its signature, and so does the device.
func TestSignVerifiesWithOpenSSH(t *testing.T) {
	for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
		t.Run(typ, func(t *testing.T) {
			k := sshtest.NewKey(t, typ, "op@laptop")
			signer, err := SignerFromKeyFile(k.Path)
			if err != nil {
				t.Fatal(err)
			}
			cmd := Command{Device: "pi-1", Action: "script:say", Args: []string{"<héllo & \"bye\">", "\n"}}
			p, err := Sign(cmd, signer)
			if err != nil {
				t.Fatal(err)
			}
			payload, err := ParsePayload(p)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := sshtest.Verify(t, k, "op@laptop", Namespace, []byte(payload.Command), payload.Signature); err != nil {
				t.Fatalf("ssh-keygen -Y verify: %v\n%s", err, out)
			}
			if out, err := sshtest.Verify(t, k, "op@laptop", "git", []byte(payload.Command), payload.Signature); err == nil {
				t.Fatalf("ssh-keygen -Y verify accepted namespace git:\n%s", out)
			}
			keys, _ := ParseAuthorizedKeys([]byte(k.AuthorizedLine))
			got, _, err := Verify(keys, p, "pi-1", "script:say")
			if err != nil {
				t.Fatal(err)
			}
			if got.Counter == 0 || strings.Join(got.Args, "|") != strings.Join(cmd.Args, "|") {
				t.Errorf("verified %+v", got)
			}
		})
	}
}

// Signing through a real ssh-agent: the operator's key never leaves it.
func TestSignWithSSHAgent(t *testing.T) {
	agent := sshtest.StartAgent(t)
	ed, rsa := sshtest.NewKey(t, "ed25519", "ed@laptop"), sshtest.NewKey(t, "rsa", "rsa@laptop")
	agent.Add(ed)

	signer, closer, err := AgentSigner(agent.Socket, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Sign(Command{Device: "pi-1", Action: "reboot", Counter: 42}, signer)
	closer.Close()
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := ParseAuthorizedKeys([]byte(ed.AuthorizedLine + "\n" + rsa.AuthorizedLine + "\n"))
	if cmd, key, err := Verify(keys, p, "pi-1", "reboot"); err != nil || cmd.Counter != 42 || key.Comment != "ed@laptop" {
		t.Fatalf("Verify = %+v, %+v, %v", cmd, key, err)
	}

	agent.Add(rsa)
	if _, _, err := AgentSigner(agent.Socket, nil); !errors.Is(err, ErrNoSigner) || !strings.Contains(err.Error(), "holds 2 keys") {
		t.Errorf("two keys, none named: %v", err)
	}
	rsaPub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(rsa.AuthorizedLine))
	t.Setenv("SSH_AUTH_SOCK", agent.Socket)
	signer, closer, err = AgentSigner("", rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	p, err = Sign(Command{Device: "pi-1", Action: "reboot", Counter: 43}, signer)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := ParsePayload(p)
	if !strings.Contains(payload.Signature, "BEGIN SSH SIGNATURE") {
		t.Fatalf("payload %s", p)
	}
	if out, err := sshtest.Verify(t, rsa, "rsa@laptop", Namespace, []byte(payload.Command), payload.Signature); err != nil {
		t.Fatalf("ssh-keygen -Y verify of the agent's RSA signature: %v\n%s", err, out)
	}
	if _, key, err := Verify(keys, p, "pi-1", "reboot"); err != nil || key.Comment != "rsa@laptop" {
		t.Fatalf("Verify: %+v %v", key, err)
	}

	other := newSigner(t, "ed25519")
	if _, _, err := AgentSigner(agent.Socket, other.PublicKey()); !errors.Is(err, ErrNoSigner) || !strings.Contains(err.Error(), "ssh-add") {
		t.Errorf("key not in the agent: %v", err)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	if _, _, err := AgentSigner("", nil); !errors.Is(err, ErrNoSigner) {
		t.Errorf("no agent: %v", err)
	}
}

func TestSignerFromKeyFileWithPassphrase(t *testing.T) {
	keygen := testenv.Program(t, "openssh-client", "ssh-keygen")
	path := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "secret", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	_, err := SignerFromKeyFile(path)
	if !errors.Is(err, ErrNoSigner) || !strings.Contains(err.Error(), "ssh-add") {
		t.Errorf("key with a passphrase: %v", err)
	}
	if _, err := SignerFromKeyFile(path + ".pub"); err == nil || errors.Is(err, ErrNoSigner) {
		t.Errorf("public key file: %v", err)
	}
	if _, err := SignerFromKeyFile(filepath.Join(t.TempDir(), "none")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestSignBounds(t *testing.T) {
	s := newSigner(t, "ed25519")
	args := make([]string, MaxArgs)
	for i := range args {
		args[i] = strings.Repeat("\"", MaxArgSize)
	}
	if _, err := Sign(Command{Device: "d", Action: "script:x", Args: args}, s); err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("oversized payload: %v", err)
	}
	if _, err := Sign(Command{Action: "reboot"}, s); err == nil {
		t.Error("no device: signed")
	}
}
