package broker

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// Lines written by mosquitto_passwd 2.0.11 (Debian 12) for alice/secret
// ($7$) and carol/hunter2 (-H sha512, $6$).
const (
	aliceLine = `alice:$7$101$H+jmd3l7fE1DxhJa$kJg/ASkqQKl/Jxf66auVjrn9M+Yz94fHhJGHa+tM1DeePO3GQi20nemXwLGDA1qKXaKEx9d3R56JBQxWDtPV5w==`
	carolLine = `carol:$6$pJHj17mr0Kbi9PS5$jAXx1bAcnqubdiZAPoLVQwo0Kgnu7N1aHUa0Uab/N5MwOvgA2N/7oTwmvFqKIIuibJGsNjj/m1z50CElrvGOVA==`
)

func TestParseUsersKnownHashes(t *testing.T) {
	u, err := ParseUsers(strings.NewReader("# operators\n\n" + aliceLine + "\r\n  " + carolLine + "  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Len() != 2 || !u.Has("alice") || !u.Has("carol") {
		t.Fatalf("users %v", u.m)
	}
	for _, tc := range []struct {
		name, pw string
		ok       bool
	}{
		{"alice", "secret", true},
		{"alice", "Secret", false},
		{"alice", "", false},
		{"carol", "hunter2", true},
		{"carol", "hunter", false},
		{"bob", "secret", false},
		{"", "", false},
	} {
		if got := u.Check(tc.name, []byte(tc.pw)); got != tc.ok {
			t.Errorf("Check(%q, %q) = %v, want %v", tc.name, tc.pw, got, tc.ok)
		}
	}
}

func TestParseUsersBadLines(t *testing.T) {
	hash7 := aliceLine[len("alice:"):]
	salt, sum := "H+jmd3l7fE1DxhJa", hash7[strings.LastIndex(hash7, "$")+1:]
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "", "no users"},
		{"comments only", "# nobody\n\n", "no users"},
		{"no colon", "alice\n", "line 1: no colon"},
		{"empty name", ":" + hash7, "empty user name"},
		{"control in name", "al\x01ice:" + hash7, "not an MQTT user name"},
		{"bad utf-8 name", "al\xffice:" + hash7, "not an MQTT user name"},
		{"plain text", "alice:secret", "plain text"},
		{"empty hash", "alice:", "plain text"},
		{"argon2", "alice:$8$x$y$z", "argon2id"},
		{"unknown type", "alice:$5$salt$hash", "unknown hash type"},
		{"short $7$", "alice:$7$101$" + salt, "want $7$iterations$salt$hash"},
		{"long $6$", "alice:$6$a$b$c", "want $6$salt$hash"},
		{"zero iterations", "alice:$7$0$" + salt + "$" + sum, "iterations"},
		{"huge iterations", "alice:$7$99999999$" + salt + "$" + sum, "iterations"},
		{"iterations with sign", "alice:$7$+101$" + salt + "$" + sum, "iterations"},
		{"bad salt", "alice:$7$101$***$" + sum, "salt"},
		{"empty salt", "alice:$7$101$$" + sum, "salt"},
		{"unpadded salt", "alice:$7$101$" + salt[:15] + "$" + sum, "salt"},
		{"short hash", "alice:$7$101$" + salt + "$" + sum[:40], "hash is not 64 bytes"},
		{"bad hash", "alice:$7$101$" + salt + "$!" + sum[1:], "hash is not 64 bytes"},
		{"duplicate", aliceLine + "\n" + aliceLine + "\n", "line 2: user \"alice\" is listed twice"},
		{"second line bad", carolLine + "\nbob:nope\n", "line 2"},
		{"too large", strings.Repeat("#", maxPasswordFile+1), "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseUsers(strings.NewReader(tc.file))
			if err == nil || !errors.Is(err, ErrPasswordFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrPasswordFile mentioning %q", err, tc.want)
			}
		})
	}
}

// A file made by the real mosquitto_passwd, in both its formats, with
// passwords that need no escaping in the file: a colon, blanks, UTF-8.
func TestUsersFromMosquittoPasswd(t *testing.T) {
	tool := testenv.Program(t, "mosquitto", "mosquitto_passwd")
	file := filepath.Join(t.TempDir(), "passwd")
	users := map[string]string{"ha": "p:ss wörd", "ops": "hunter2", "old": "legacy"}
	for _, args := range [][]string{
		{"-c", "-b", file, "ha", users["ha"]},
		{"-b", file, "ops", users["ops"]},
		{"-H", "sha512", "-b", file, "old", users["old"]},
	} {
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %v: %v\n%s", args, err, out)
		}
	}
	u, err := ReadUsers(file)
	if err != nil {
		b, _ := os.ReadFile(file)
		t.Fatalf("%v\n%s", err, b)
	}
	if !u.m["ha"].pbkdf2 || u.m["old"].pbkdf2 {
		t.Errorf("hash types: ha %+v old %+v", u.m["ha"], u.m["old"])
	}
	for name, pw := range users {
		if !u.Check(name, []byte(pw)) {
			t.Errorf("%s's password refused", name)
		}
		if u.Check(name, []byte(pw+"x")) {
			t.Errorf("%s: a wrong password accepted", name)
		}
	}
}

// A name not in the file costs what a wrong password costs, so timing
// does not tell which names exist.
func TestUnknownUserTakesAsLong(t *testing.T) {
	slow := strings.Replace(aliceLine, "$7$101$", "$7$20000$", 1)
	u, err := ParseUsers(strings.NewReader(slow + "\n" + carolLine))
	if err != nil {
		t.Fatal(err)
	}
	if !u.dummy.pbkdf2 || u.dummy.iter != 20000 {
		t.Fatalf("dummy %+v, want the costliest hash", u.dummy)
	}
	took := func(name string) time.Duration {
		best := time.Hour
		for range 5 {
			start := time.Now()
			u.Check(name, []byte("guess"))
			best = min(best, time.Since(start))
		}
		return best
	}
	known, unknown := took("alice"), took("mallory")
	if unknown < known/2 {
		t.Errorf("unknown user %v, known user %v", unknown, known)
	}
}

func FuzzParseUsers(f *testing.F) {
	f.Add(aliceLine + "\n" + carolLine + "\n")
	f.Add("# c\n\nx:$7$1$AAAA$" + strings.Repeat("A", 86) + "==\n")
	f.Add("a:$6$$\n")
	f.Add("a:b:c\n")
	f.Fuzz(func(t *testing.T, file string) {
		u, err := ParseUsers(strings.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrPasswordFile) {
				t.Fatalf("error %v does not wrap ErrPasswordFile", err)
			}
			return
		}
		for name, h := range u.m {
			if name == "" || len(h.sum) != hashLen || len(h.salt) == 0 || (h.pbkdf2 && (h.iter < 1 || h.iter > maxIterations)) {
				t.Fatalf("accepted %q: %+v", name, h)
			}
			if h.pbkdf2 && h.iter > 1000 {
				continue // checking would make the fuzzer slow, not wiser
			}
			u.Check(name, []byte("x"))
		}
	})
}

// BenchmarkCheck reports the CPU time of one login against each hash
// type: the figure the lock-out and the one-check-at-a-time rule are
// sized by.
func BenchmarkCheck(b *testing.B) {
	for _, tc := range []struct{ name, line string }{
		{"sha512", carolLine},
		{"pbkdf2-101", aliceLine},
		{"pbkdf2-1000", strings.Replace(aliceLine, "$7$101$", "$7$1000$", 1)},
		{"pbkdf2-100000", strings.Replace(aliceLine, "$7$101$", "$7$100000$", 1)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			u, err := ParseUsers(strings.NewReader(tc.line))
			if err != nil {
				b.Fatal(err)
			}
			name, _, _ := strings.Cut(tc.line, ":")
			for b.Loop() {
				u.Check(name, []byte("wrong"))
			}
		})
	}
}
