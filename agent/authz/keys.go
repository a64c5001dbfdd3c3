package authz

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Bounds of an authorized_keys file: it is read whole at start-up.
const (
	MaxKeysFileSize = 1 << 20
	MaxKeys         = 1000
	// MinRSABits is the smallest RSA modulus accepted.
	MinRSABits = 2048
)

// ErrKeysFile is wrapped by every error about the content of an
// authorized_keys file.
var ErrKeysFile = errors.New("authz: bad authorized_keys file")

// Key is one authorized key.
type Key struct {
	PublicKey ssh.PublicKey
	// Fingerprint is OpenSSH's SHA256 fingerprint, "SHA256:" and unpadded
	// base64, as ssh-keygen -l prints it.
	Fingerprint string
	// Comment is the rest of the key's line, usually user@host.
	Comment string
}

// Keys is a parsed authorized_keys file. It is immutable: a reload makes
// a new one.
type Keys struct {
	list []Key
	byFP map[string]int
}

// ignoredOptions only shape SSH sessions (forwarding, terminals, rc
// files), which the agent does not offer, so they change nothing here.
// Every other option narrows who may use the key or what it may do
// (command=, from=, expiry-time=, principals=, cert-authority,
// verify-required, no-touch-required, or one unknown): the agent cannot
// honour it, and ignoring it would give the key more power on the device
// than sshd gives it, so such a line is refused.
var ignoredOptions = []string{
	"agent-forwarding", "no-agent-forwarding", "port-forwarding", "no-port-forwarding",
	"pty", "no-pty", "user-rc", "no-user-rc", "x11-forwarding", "no-x11-forwarding",
	"restrict", "permitopen", "permitlisten", "environment", "tunnel",
}

// ParseAuthorizedKeys reads an authorized_keys file in OpenSSH's format:
// one key per line, optionally preceded by options and followed by a
// comment; empty lines and lines starting with # are skipped. A line that
// is not a key, a certificate, a DSA key, an RSA key under MinRSABits or
// a key with an option other than those that only shape SSH sessions is
// an error naming its line, never skipped: a key the operator listed and
// the device silently ignored would be worse. A key listed twice keeps
// its first comment.
func ParseAuthorizedKeys(data []byte) (*Keys, error) {
	return parseAuthorizedKeys(data, "authorized_keys")
}

func parseAuthorizedKeys(data []byte, name string) (*Keys, error) {
	if len(data) > MaxKeysFileSize {
		return nil, fmt.Errorf("%w: %s: over %d bytes", ErrKeysFile, name, MaxKeysFileSize)
	}
	k := &Keys{byFP: map[string]int{}}
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(bytes.TrimSuffix(line, []byte("\r")))
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, err := parseKeyLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: line %d: %v", ErrKeysFile, name, n+1, err)
		}
		if _, dup := k.byFP[key.Fingerprint]; dup {
			continue
		}
		if len(k.list) == MaxKeys {
			return nil, fmt.Errorf("%w: %s: line %d: more than %d keys", ErrKeysFile, name, n+1, MaxKeys)
		}
		k.byFP[key.Fingerprint] = len(k.list)
		k.list = append(k.list, key)
	}
	return k, nil
}

func parseKeyLine(line []byte) (Key, error) {
	pub, comment, options, rest, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return Key{}, fmt.Errorf("not a public key: %v", err)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return Key{}, errors.New("not a public key")
	}
	for _, o := range options {
		name, _, _ := strings.Cut(o, "=")
		if !slices.Contains(ignoredOptions, strings.ToLower(name)) {
			return Key{}, fmt.Errorf("option %q restricts the key for sshd and cannot be honoured here; list the key without it", name)
		}
	}
	switch pub.Type() {
	case "ssh-dss":
		return Key{}, errors.New("DSA keys are not accepted; use ed25519")
	case ssh.KeyAlgoRSA:
		ck, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return Key{}, errors.New("unreadable RSA key")
		}
		if rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey); !ok || rk.N.BitLen() < MinRSABits {
			return Key{}, fmt.Errorf("RSA keys under %d bits are not accepted", MinRSABits)
		}
	}
	if _, ok := pub.(*ssh.Certificate); ok {
		return Key{}, errors.New("certificates are not accepted; list the key itself")
	}
	return Key{PublicKey: pub, Fingerprint: ssh.FingerprintSHA256(pub), Comment: comment}, nil
}

// LoadAuthorizedKeys reads and parses the authorized_keys file at path.
func LoadAuthorizedKeys(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("authz: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeysFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("authz: %s: %w", path, err)
	}
	return parseAuthorizedKeys(data, path)
}

// Len returns the number of keys.
func (k *Keys) Len() int {
	if k == nil {
		return 0
	}
	return len(k.list)
}

// List returns the keys in file order.
func (k *Keys) List() []Key {
	if k == nil {
		return nil
	}
	return slices.Clone(k.list)
}

// Lookup returns the key with the SHA256 fingerprint fp.
func (k *Keys) Lookup(fp string) (Key, bool) {
	if k == nil {
		return Key{}, false
	}
	i, ok := k.byFP[fp]
	if !ok {
		return Key{}, false
	}
	return k.list[i], true
}

// Has reports whether a key with fingerprint fp is listed.
func (k *Keys) Has(fp string) bool {
	_, ok := k.Lookup(fp)
	return ok
}
