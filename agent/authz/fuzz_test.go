package authz

import (
	"crypto/ed25519"
	"errors"
	"reflect"
	"testing"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// FuzzParseCommand: no input panics; a refusal is malformed; an accepted
// command is within the bounds and survives Marshal and ParseCommand
// unchanged.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		`{"device":"pi-1","action":"reboot","counter":1}`,
		`{"device":"pi-1","action":"script:x","args":["a","\u00e9","\ud800"],"counter":9223372036854775807}`,
		`{"device":"d","action":"a","counter":1,"device":"e"}`,
		`{"device":"d","action":"a","args":["\u0000"],"counter":1e3}`,
		`{"device":"d","action":"a","args":null,"counter":-0}`,
		`{"counter":01}`, `[]`, `null`, ``, "{\"device\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCommand(in)
		if err != nil {
			if ReasonOf(err) != Malformed {
				t.Fatalf("ParseCommand(%q): %v is not malformed", in, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCommand(%q) = %+v: %v", in, c, err)
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", c, err)
		}
		back, err := ParseCommand(b)
		if len(back.Args) == 0 && len(c.Args) == 0 {
			back.Args, c.Args = nil, nil
		}
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("ParseCommand(Marshal(%+v)) = %+v, %v", c, back, err)
		}
	})
}

// FuzzParsePayload: no input panics; a refusal is malformed; an accepted
// payload survives Marshal and ParsePayload unchanged.
func FuzzParsePayload(f *testing.F) {
	for _, s := range []string{
		`{"command":"{\"device\":\"d\"}","signature":"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"}`,
		`{"command":"","signature":"","command":""}`,
		`{"signature":1}`, `PRESS`, ``, `{}`, "{\"command\":\"\xc3\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := ParsePayload(in)
		if err != nil {
			if ReasonOf(err) != Malformed {
				t.Fatalf("ParsePayload(%q): %v is not malformed", in, err)
			}
			return
		}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParsePayload(b)
		if err != nil && len(b) <= MaxPayload || err == nil && back != p {
			t.Fatalf("ParsePayload(Marshal(%+v)) = %+v, %v", p, back, err)
		}
	})
}

// FuzzParseSignature: no armor panics the parser; a refusal is malformed.
func FuzzParseSignature(f *testing.F) {
	s := fuzzSigner()
	sig, _ := sshsig.Sign(bytesReader("x"), s, sshsig.HashSHA512, Namespace)
	f.Add(string(sshsig.Armor(sig)))
	f.Add(armorBegin + "\nU1NIU0lH\n" + armorEnd)
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		if _, err := ParseSignature(in); err != nil && ReasonOf(err) != Malformed {
			t.Fatalf("ParseSignature(%q): %v is not malformed", in, err)
		}
	})
}

// FuzzVerify: no payload panics the verifier, every refusal has one of the
// verifier's reasons, and nothing is accepted but the commands that were
// really signed: mutations cannot forge one.
func FuzzVerify(f *testing.F) {
	s := fuzzSigner()
	keys, err := ParseAuthorizedKeys(ssh.MarshalAuthorizedKey(s.PublicKey()))
	if err != nil {
		f.Fatal(err)
	}
	signed := map[uint64]bool{}
	for i, text := range []string{
		`{"device":"pi-1","action":"reboot","counter":1}`,
		`{"device":"pi-1","action":"reboot","args":["a"],"counter":2}`,
		`{"device":"pi-2","action":"reboot","counter":3}`,
		`{"device":"pi-1","action":"poweroff","counter":4}`,
	} {
		sig, err := sshsig.Sign(bytesReader(text), s, []sshsig.HashAlgorithm{sshsig.HashSHA512, sshsig.HashSHA256}[i%2], Namespace)
		if err != nil {
			f.Fatal(err)
		}
		p, _ := Payload{Command: text, Signature: string(sshsig.Armor(sig))}.Marshal()
		f.Add(p)
		signed[uint64(i+1)] = true
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		cmd, _, err := Verify(keys, in, "pi-1", "reboot")
		if err != nil {
			switch ReasonOf(err) {
			case Malformed, UnknownKey, BadSignature, WrongDevice, WrongAction:
				return
			}
			t.Fatalf("Verify(%q): %v", in, err)
		}
		if !signed[cmd.Counter] || cmd.Device != "pi-1" || cmd.Action != "reboot" {
			t.Fatalf("Verify(%q) accepted %+v", in, cmd)
		}
	})
}

// FuzzParseAuthorizedKeys: no file panics the parser; an error wraps
// ErrKeysFile; the bound on keys holds.
func FuzzParseAuthorizedKeys(f *testing.F) {
	line := string(ssh.MarshalAuthorizedKey(fuzzSigner().PublicKey()))
	f.Add([]byte(line))
	f.Add([]byte("# c\n\nno-pty,from=\"a,b\" " + line))
	f.Add([]byte(`command="x \" y" ` + line))
	f.Add([]byte(dsaLine))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := ParseAuthorizedKeys(in)
		if err != nil {
			if !errors.Is(err, ErrKeysFile) {
				t.Fatalf("error %v does not wrap ErrKeysFile", err)
			}
			return
		}
		if k.Len() > MaxKeys {
			t.Fatalf("%d keys", k.Len())
		}
		for _, key := range k.List() {
			if got, ok := k.Lookup(key.Fingerprint); !ok || got.Fingerprint != key.Fingerprint {
				t.Fatalf("Lookup(%s)", key.Fingerprint)
			}
		}
	})
}

// FuzzParseCounters: no counters file panics the store; what it accepts
// is within the bounds.
func FuzzParseCounters(f *testing.F) {
	f.Add([]byte(`{"version":1,"counters":{"SHA256:a":12}}`))
	f.Add([]byte(`{"version":1,"counters":null}`))
	f.Add([]byte(`{"version":1,"counters":{"SHA256:a":1,"SHA256:a":2}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := parseCounters(in)
		if err != nil {
			return
		}
		if m == nil || len(m) > MaxCounterEntries {
			t.Fatalf("parseCounters(%q) = %v", in, m)
		}
		for _, n := range m {
			if n == 0 || n > MaxCounter {
				t.Fatalf("parseCounters(%q) = %v", in, m)
			}
		}
	})
}

// fuzzSigner is a fixed key, so that the seeds stay valid across runs.
func fuzzSigner() ssh.Signer {
	s, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		panic(err)
	}
	return s
}
