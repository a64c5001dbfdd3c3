package authz

import (
	"strings"
	"testing"

	"github.com/hiddeco/sshsig"
)

func TestParsePayload(t *testing.T) {
	p, err := ParsePayload([]byte(`{"signature": "S", "command": "C"}`))
	if err != nil || p.Command != "C" || p.Signature != "S" {
		t.Fatalf("ParsePayload = %+v, %v", p, err)
	}
	huge := `{"command":"` + strings.Repeat("a", MaxPayload) + `","signature":"s"}`
	for _, c := range []struct{ name, in string }{
		{"empty", ``},
		{"PRESS", `PRESS`},
		{"truncated", `{"command":"C","signature":"S"`},
		{"array", `[]`},
		{"no signature", `{"command":"C"}`},
		{"no command", `{"signature":"S"}`},
		{"extra key", `{"command":"C","signature":"S","counter":1}`},
		{"duplicate command", `{"command":"C","signature":"S","command":"D"}`},
		{"command object", `{"command":{"device":"d"},"signature":"S"}`},
		{"signature null", `{"command":"C","signature":null}`},
		{"trailing data", `{"command":"C","signature":"S"} {}`},
		{"invalid UTF-8", "{\"command\":\"\xc3\",\"signature\":\"S\"}"},
		{"over 16 KiB", huge},
	} {
		if _, err := ParsePayload([]byte(c.in)); ReasonOf(err) != Malformed {
			t.Errorf("%s: ParsePayload(%.60q) = %v, want malformed", c.name, c.in, err)
		}
	}
}

func TestParseSignature(t *testing.T) {
	s := newSigner(t, "ed25519")
	sig, err := sshsig.Sign(strings.NewReader("x"), s, sshsig.HashSHA512, Namespace)
	if err != nil {
		t.Fatal(err)
	}
	armored := string(sshsig.Armor(sig))
	if _, err := ParseSignature(armored); err != nil {
		t.Fatalf("Go's armor: %v", err)
	}
	if _, err := ParseSignature("\r\n" + strings.ReplaceAll(armored, "\n", "\r\n")); err != nil {
		t.Fatalf("CRLF armor: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(armored), "\n")
	body := strings.Join(lines[1:len(lines)-1], "")
	md5 := *sig
	md5.HashAlgorithm = "md5"
	v2 := *sig
	v2.Version = 2
	for _, c := range []struct{ name, in string }{
		{"empty", ""},
		{"no armor", body},
		{"truncated", armored[:len(armored)/2]},
		{"no end", strings.TrimSuffix(strings.TrimSpace(armored), armorEnd)},
		{"other type", strings.ReplaceAll(armored, "SSH SIGNATURE", "PGP SIGNATURE")},
		{"text before", "hello\n" + armored},
		{"text after", armored + "hello\n"},
		{"two blocks", armored + armored},
		{"header", strings.Replace(armored, "-----\n", "-----\nComment: x\n\n", 1)},
		{"bad base64", strings.Replace(armored, lines[1][:4], "!!!!", 1)},
		{"short blob", armorBegin + "\n" + body[:40] + "\n" + armorEnd},
		{"unsupported hash", string(sshsig.Armor(&md5))},
		{"version 2", string(sshsig.Armor(&v2))},
		{"not SSHSIG", armorBegin + "\nU1NIU0lH\n" + armorEnd},
	} {
		if _, err := ParseSignature(c.in); ReasonOf(err) != Malformed {
			t.Errorf("%s: ParseSignature = %v, want malformed", c.name, err)
		}
	}
}
