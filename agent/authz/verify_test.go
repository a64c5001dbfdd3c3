package authz

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hiddeco/sshsig"

	"edge-agent/internal/sshtest"
)

// What an operator signs by hand with ssh-keygen is accepted, for each
// kind of key ssh-keygen makes.
func TestVerifyOpenSSHSignatures(t *testing.T) {
	for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
		t.Run(typ, func(t *testing.T) {
			k := sshtest.NewKey(t, typ, "op@laptop")
			other := sshtest.NewKey(t, typ, "mallory")
			keys, err := ParseAuthorizedKeys([]byte(k.AuthorizedLine + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			text := `{"device":"pi-1","action":"script:report","args":["a","b"],"counter":1764547200123456789}`
			cmd, key, err := Verify(keys, sshtest.Payload(t, k, text), "pi-1", "script:report")
			if err != nil {
				t.Fatal(err)
			}
			if cmd.Counter != 1764547200123456789 || strings.Join(cmd.Args, ",") != "a,b" || key.Comment != "op@laptop" {
				t.Errorf("got %+v by %+v", cmd, key)
			}
			if _, _, err := Verify(keys, sshtest.Payload(t, other, text), "pi-1", "script:report"); ReasonOf(err) != UnknownKey {
				t.Errorf("other key: %v", err)
			}
			sig := sshtest.Sign(t, k, "git", []byte(text))
			_, _, err = Verify(keys, rawPayload(t, text, sig), "pi-1", "script:report")
			if ReasonOf(err) != BadSignature || !strings.Contains(err.Error(), "-n edge-agent") {
				t.Errorf("namespace git: %v", err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	s, other := newSigner(t, "ed25519"), newSigner(t, "ed25519")
	keys := keysOf(t, s)
	const text = `{"device":"pi-1","action":"reboot","counter":5}`
	good := payloadOf(t, s, text, Namespace, sshsig.HashSHA512)
	if _, _, err := Verify(keys, good, "pi-1", "reboot"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(keys, payloadOf(t, s, text, Namespace, sshsig.HashSHA256), "pi-1", "reboot"); err != nil {
		t.Fatalf("sha256: %v", err)
	}

	sig, _ := sshsig.Sign(strings.NewReader(text), s, sshsig.HashSHA512, Namespace)
	wrongHash := *sig
	wrongHash.HashAlgorithm = sshsig.HashSHA256
	otherSig, _ := sshsig.Sign(strings.NewReader(text), other, sshsig.HashSHA512, Namespace)
	// other's signature presented with s's key in the blob.
	swapped := *otherSig
	swapped.PublicKey = s.PublicKey()
	armored := string(sshsig.Armor(sig))

	sign := func(text string) []byte { return payloadOf(t, s, text, Namespace, sshsig.HashSHA512) }
	for _, c := range []struct {
		name    string
		payload []byte
		want    Reason
	}{
		{"PRESS", []byte("PRESS"), Malformed},
		{"truncated payload", good[:len(good)-10], Malformed},
		{"truncated signature", rawPayload(t, text, armored[:len(armored)-60]+"\n"+armorEnd), Malformed},
		{"extra payload key", bytes.Replace(good, []byte(`{`), []byte(`{"x":1,`), 1), Malformed},
		{"unknown key", payloadOf(t, other, text, Namespace, sshsig.HashSHA512), UnknownKey},
		{"wrong namespace", payloadOf(t, s, text, "file", sshsig.HashSHA512), BadSignature},
		{"wrong hash", rawPayload(t, text, string(sshsig.Armor(&wrongHash))), BadSignature},
		{"other key's signature", rawPayload(t, text, string(sshsig.Armor(&swapped))), BadSignature},
		{"text changed", rawPayload(t, strings.Replace(text, "5", "6", 1), armored), BadSignature},
		{"text with a trailing newline", rawPayload(t, text+"\n", armored), BadSignature},
		{"signed garbage", sign(`reboot`), Malformed},
		{"signed extra field", sign(`{"device":"pi-1","action":"reboot","counter":5,"at":"now"}`), Malformed},
		{"signed duplicate device", sign(`{"device":"pi-2","action":"reboot","counter":5,"device":"pi-1"}`), Malformed},
		{"signed counter 0", sign(`{"device":"pi-1","action":"reboot","counter":0}`), Malformed},
		{"signed counter -1", sign(`{"device":"pi-1","action":"reboot","counter":-1}`), Malformed},
		{"signed counter 2^63", sign(`{"device":"pi-1","action":"reboot","counter":9223372036854775808}`), Malformed},
		{"signed NUL", sign(`{"device":"pi-1","action":"reboot","args":["\u0000"],"counter":5}`), Malformed},
		{"signed huge arg", sign(`{"device":"pi-1","action":"reboot","args":["` + strings.Repeat("x", 1025) + `"],"counter":5}`), Malformed},
		{"other device", sign(`{"device":"pi-2","action":"reboot","counter":5}`), WrongDevice},
		{"device prefix", sign(`{"device":"pi-","action":"reboot","counter":5}`), WrongDevice},
		{"other action", sign(`{"device":"pi-1","action":"poweroff","counter":5}`), WrongAction},
	} {
		_, _, err := Verify(keys, c.payload, "pi-1", "reboot")
		if ReasonOf(err) != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	if _, _, err := Verify(nil, good, "pi-1", "reboot"); ReasonOf(err) != UnknownKey {
		t.Errorf("no keys: %v", err)
	}
}
