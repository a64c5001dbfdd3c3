package authz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// ErrNoSigner is wrapped when no usable key was found: a key file that
// needs a passphrase, an ssh-agent without the key.
var ErrNoSigner = errors.New("authz: no signing key")

// Sign returns the payload that asks cmd.Device to run cmd, signed by
// signer: what ssh-keygen -Y sign -n edge-agent would give for the same
// command text. A zero Counter is set to the current Unix time in
// nanoseconds, the counter's convention. RSA keys sign with SHA-512, as
// ssh-keygen does.
func Sign(cmd Command, signer ssh.Signer) ([]byte, error) {
	if cmd.Counter == 0 {
		cmd.Counter = uint64(time.Now().UnixNano())
	}
	text, err := cmd.Marshal()
	if err != nil {
		return nil, err
	}
	sig, err := sshsig.Sign(bytes.NewReader(text), signer, sshsig.HashSHA512, Namespace)
	if err != nil {
		return nil, fmt.Errorf("authz: sign: %w", err)
	}
	p, err := Payload{Command: string(text), Signature: string(sshsig.Armor(sig))}.Marshal()
	if err != nil {
		return nil, err
	}
	if len(p) > MaxPayload {
		return nil, fmt.Errorf("authz: sign: the payload is %d bytes, over the limit of %d: fewer or shorter args", len(p), MaxPayload)
	}
	return p, nil
}

// SignerFromKeyFile reads an OpenSSH private key file that has no
// passphrase. For a key with one, it returns an error wrapping
// ErrNoSigner that says to use ssh-agent.
func SignerFromKeyFile(path string) (ssh.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authz: %w", err)
	}
	s, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("%w: %s needs a passphrase: add it to ssh-agent (ssh-add %s) and sign through SSH_AUTH_SOCK", ErrNoSigner, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("authz: %s: %w", path, err)
	}
	return s, nil
}

// AgentSigner connects to the ssh-agent at socket (SSH_AUTH_SOCK when
// empty) and returns its signer for pub, or, with pub nil, its only key.
// Closing the returned closer ends the connection; the signer cannot be
// used after.
func AgentSigner(socket string, pub ssh.PublicKey) (ssh.Signer, io.Closer, error) {
	if socket == "" {
		socket = os.Getenv("SSH_AUTH_SOCK")
	}
	if socket == "" {
		return nil, nil, fmt.Errorf("%w: SSH_AUTH_SOCK is not set: start ssh-agent or name a key file", ErrNoSigner)
	}
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return nil, nil, fmt.Errorf("authz: ssh-agent: %w", err)
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("authz: ssh-agent: %w", err)
	}
	var names []string
	for _, s := range signers {
		if pub == nil && len(signers) == 1 || pub != nil && bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s, conn, nil
		}
		names = append(names, ssh.FingerprintSHA256(s.PublicKey()))
	}
	conn.Close()
	if pub == nil {
		return nil, nil, fmt.Errorf("%w: ssh-agent holds %d keys (%s): name the one to sign with", ErrNoSigner, len(signers), strings.Join(names, ", "))
	}
	return nil, nil, fmt.Errorf("%w: ssh-agent does not hold %s: ssh-add it", ErrNoSigner, ssh.FingerprintSHA256(pub))
}
