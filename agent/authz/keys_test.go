package authz

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

const dsaLine = "ssh-dss AAAAB3NzaC1kc3MAAACBAKsWBZ090bXtr6881X6bHtDccQavV5Qgpoyk+rl0eHi5XAej60iMvCa5jBbx8MiyX6IZaH6WgwABA4nDtojXeaCOn1mlcYLgCz3KSs4uMJ8KtsTaOd2+X/a2iGvlW0KUd4HLqEk968V3eWOhgP0apSToCknu10DIbyMlwpzMnHWjAAAAFQDmcZeakS3gL/3iGhp186zsMJApzwAAAIAIkwn+Gi6qeeuQLoRRwabE4+bw/Tp/U23P00LVg6mZqKebzkIU398V/q1b9QoXBVEyX2yvSkoOp9+Xx+S7h5XJIVo+CCEi/AYomksfAi1tsNqNkvqIUW1GcVeobYNLLT4A9XlvrG06EQsfyLVLUuZjmKNPom4DYE8HWpYgRfib+QAAAIBVhGh0LAPTsdZhwpX8GQKhIsiWOVWuzE2Wde2ljaeKACohI45ve/kR7mTarTD1Hen7eGfhm5+Eswqsc2JTWjCC/xXR7K0oJ2skk+gW/dPfiIe2H1JZpGKGJGDXw9XCUByhXNSUvDmgj1vsadcIUOkNOAsOkv+DzUAyUZ/cR1idqg== dsa"

func TestParseAuthorizedKeys(t *testing.T) {
	a, b, c := newSigner(t, "ed25519"), newSigner(t, "ecdsa"), newSigner(t, "rsa")
	file := "# operators\n\n" +
		authorizedLine(a, "alice@laptop") + "\r\n" +
		"   # indented comment\n" +
		`no-pty,restrict,permitopen="host:22",environment="A=b c" ` + authorizedLine(b, "bob with spaces") + "\n" +
		"\t" + authorizedLine(c, "") + "  \n" +
		authorizedLine(a, "alice again") + "\n"
	k, err := ParseAuthorizedKeys([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if k.Len() != 3 {
		t.Fatalf("%d keys, want 3: %+v", k.Len(), k.List())
	}
	for i, want := range []struct {
		s       ssh.Signer
		comment string
	}{{a, "alice@laptop"}, {b, "bob with spaces"}, {c, ""}} {
		fp := ssh.FingerprintSHA256(want.s.PublicKey())
		got, ok := k.Lookup(fp)
		if !ok || got.Comment != want.comment || got.Fingerprint != fp || k.List()[i].Fingerprint != fp {
			t.Errorf("key %d: %+v %v, want comment %q", i, got, ok, want.comment)
		}
	}
	if k.Has("SHA256:nope") {
		t.Error("Has an unlisted key")
	}
	empty, err := ParseAuthorizedKeys([]byte("# nobody yet\n"))
	if err != nil || empty.Len() != 0 {
		t.Errorf("comments only: %v %v", empty, err)
	}
	var none *Keys
	if none.Len() != 0 || none.Has("x") || none.List() != nil {
		t.Error("nil Keys")
	}
}

func TestParseAuthorizedKeysRefuses(t *testing.T) {
	a := newSigner(t, "ed25519")
	line := authorizedLine(a, "alice")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallPub, _ := ssh.NewPublicKey(&small.PublicKey)
	cert := &ssh.Certificate{Key: a.PublicKey(), CertType: ssh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, newSigner(t, "ed25519")); err != nil {
		t.Fatal(err)
	}
	blob := strings.Fields(line)[1]
	for _, c := range []struct{ name, file, want string }{
		{"garbage", "# ok\nhello world\n", "line 2: not a public key"},
		{"truncated key", line[:40] + "\n", "line 1: not a public key"},
		{"type mismatch", "ssh-rsa " + blob + " x\n", "line 1: not a public key"},
		{"command=", `command="/bin/true" ` + line, `option "command"`},
		{"from=", `from="10.0.0.0/8" ` + line, `option "from"`},
		{"expiry-time=", `expiry-time="20300101" ` + line, `option "expiry-time"`},
		{"cert-authority", `cert-authority ` + line, `option "cert-authority"`},
		{"verify-required", `verify-required ` + line, `option "verify-required"`},
		{"unknown option", `no-pty,frobnicate ` + line, `option "frobnicate"`},
		{"DSA", dsaLine, "DSA keys"},
		{"small RSA", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(smallPub))), "RSA keys under 2048"},
		{"certificate", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert))), "certificates"},
		{"too large", "#" + strings.Repeat("x", MaxKeysFileSize), "over 1048576 bytes"},
	} {
		_, err := ParseAuthorizedKeys([]byte(c.file))
		if !errors.Is(err, ErrKeysFile) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

func TestAuthorizedKeysBound(t *testing.T) {
	var b strings.Builder
	for range MaxKeys + 1 {
		b.WriteString(authorizedLine(newSigner(t, "ed25519"), "k") + "\n")
	}
	_, err := ParseAuthorizedKeys([]byte(b.String()))
	if !errors.Is(err, ErrKeysFile) || !strings.Contains(err.Error(), "line 1001: more than 1000 keys") {
		t.Fatalf("%d keys: %v", MaxKeys+1, err)
	}
}

func TestLoadAuthorizedKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "authorized_keys")
	if _, err := LoadAuthorizedKeys(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	os.WriteFile(path, []byte(authorizedLine(newSigner(t, "ed25519"), "a")+"\nnot a key\n"), 0o600)
	_, err := LoadAuthorizedKeys(path)
	if !errors.Is(err, ErrKeysFile) || !strings.Contains(err.Error(), path+": line 2: not a public key") {
		t.Errorf("bad line: %v", err)
	}
	os.WriteFile(path, []byte(authorizedLine(newSigner(t, "ed25519"), "a")+"\n"), 0o600)
	if k, err := LoadAuthorizedKeys(path); err != nil || k.Len() != 1 {
		t.Errorf("one key: %v %v", k, err)
	}
	big, _ := os.Create(path)
	big.Truncate(MaxKeysFileSize + 1)
	big.Close()
	if _, err := LoadAuthorizedKeys(path); !errors.Is(err, ErrKeysFile) {
		t.Errorf("large file: %v", err)
	}
}
