package authz

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// newSigner makes a key in memory: for tests where OpenSSH's tools are
// not what is tested.
func newSigner(t testing.TB, typ string) ssh.Signer {
	t.Helper()
	var priv any
	var err error
	switch typ {
	case "ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("key type %q", typ)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// authorizedLine is signer's public key as an authorized_keys line.
func authorizedLine(s ssh.Signer, comment string) string {
	return string(bytes.TrimSpace(ssh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment
}

func keysOf(t testing.TB, signers ...ssh.Signer) *Keys {
	t.Helper()
	var b bytes.Buffer
	for i, s := range signers {
		b.WriteString(authorizedLine(s, "op"+string(rune('0'+i))+"@laptop") + "\n")
	}
	k, err := ParseAuthorizedKeys(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// payloadOf signs text as it is (no validation), in namespace ns with
// hash h, and returns the payload.
func payloadOf(t testing.TB, s ssh.Signer, text, ns string, h sshsig.HashAlgorithm) []byte {
	t.Helper()
	sig, err := sshsig.Sign(bytes.NewReader([]byte(text)), s, h, ns)
	if err != nil {
		t.Fatal(err)
	}
	return rawPayload(t, text, string(sshsig.Armor(sig)))
}

func rawPayload(t testing.TB, text, armored string) []byte {
	t.Helper()
	b, err := json.Marshal(Payload{Command: text, Signature: armored})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantReason fails the test unless err is a *Refusal with reason r.
func wantReason(t testing.TB, err error, r Reason) {
	t.Helper()
	if got := ReasonOf(err); got != r {
		t.Fatalf("got %v (reason %v), want reason %v", err, got, r)
	}
}

func bytesReader(s string) *bytes.Reader { return bytes.NewReader([]byte(s)) }
