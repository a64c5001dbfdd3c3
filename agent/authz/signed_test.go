package authz

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// A file-sized message in a namespace of its own: the key and the
// namespace are checked before the message is read, the signature over it
// as a stream.
func TestCheckSignatureStream(t *testing.T) {
	s, other := newSigner(t, "ed25519"), newSigner(t, "ecdsa")
	keys := keysOf(t, s)
	const ns = "edge-agent-file"
	msg := bytes.Repeat([]byte("binary "), 200_000)
	armored := func(signer ssh.Signer, ns string, h sshsig.HashAlgorithm) string {
		t.Helper()
		sig, err := sshsig.Sign(bytes.NewReader(msg), signer, h, ns)
		if err != nil {
			t.Fatal(err)
		}
		return string(sshsig.Armor(sig))
	}
	for _, h := range []sshsig.HashAlgorithm{sshsig.HashSHA512, sshsig.HashSHA256} {
		signed, err := CheckSignature(keys, armored(s, ns, h), ns)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if signed.Key.Fingerprint != ssh.FingerprintSHA256(s.PublicKey()) || signed.Key.Comment != "op0@laptop" {
			t.Errorf("%s: key %+v", h, signed.Key)
		}
		if err := signed.Verify(iotest.HalfReader(bytes.NewReader(msg))); err != nil {
			t.Errorf("%s: %v", h, err)
		}
		changed := bytes.Clone(msg)
		changed[len(changed)-1] ^= 1
		if err := signed.Verify(bytes.NewReader(changed)); ReasonOf(err) != BadSignature || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("%s: changed message: %v", h, err)
		}
	}

	good := armored(s, ns, sshsig.HashSHA512)
	for _, c := range []struct {
		name, armored, ns string
		keys              *Keys
		want              Reason
		message           string
	}{
		{"not armored", "SSHSIG", ns, keys, Malformed, "does not start with"},
		{"unknown key", armored(other, ns, sshsig.HashSHA512), ns, keys, UnknownKey, "not in authorized_keys"},
		{"no keys", good, ns, nil, UnknownKey, "not in authorized_keys"},
		{"command namespace", armored(s, Namespace, sshsig.HashSHA512), ns, keys, BadSignature, "-n " + ns},
		{"file signature as a command", good, Namespace, keys, BadSignature, "-n " + Namespace},
	} {
		signed, err := CheckSignature(c.keys, c.armored, c.ns)
		if ReasonOf(err) != c.want || !strings.Contains(err.Error(), c.message) {
			t.Errorf("%s: %v, want %v with %q", c.name, err, c.want, c.message)
		}
		// The zero Signed, or what a refusal left, verifies nothing.
		if err := signed.Verify(bytes.NewReader(msg)); ReasonOf(err) != BadSignature {
			t.Errorf("%s: Verify after a refusal: %v", c.name, err)
		}
	}
	// The key is named when only the namespace is wrong: it is who asked.
	if signed, _ := CheckSignature(keys, good, Namespace); signed.Key.Comment != "op0@laptop" {
		t.Errorf("namespace refusal names %+v", signed.Key)
	}
}

// A message that cannot be read whole does not verify, and says why.
func TestSignedVerifyReadError(t *testing.T) {
	s := newSigner(t, "ed25519")
	sig, err := sshsig.Sign(strings.NewReader("abc"), s, sshsig.HashSHA512, "ns")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := CheckSignature(keysOf(t, s), string(sshsig.Armor(sig)), "ns")
	if err != nil {
		t.Fatal(err)
	}
	cause := errors.New("sd card gone")
	err = signed.Verify(io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(cause)))
	if ReasonOf(err) != BadSignature || !errors.Is(err, cause) {
		t.Errorf("read error: %v", err)
	}
}
