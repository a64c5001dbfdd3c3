package update

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseState: no input panics; a refusal wraps ErrLayout; an
// accepted state survives marshal and ParseState unchanged, and Decide
// over it, with either slot current, keeps Decide's promises.
func FuzzParseState(f *testing.F) {
	sha := strings.Repeat("0", 64)
	for _, s := range []string{
		`{"format":1,"slots":{"a":{"version":"1.0.0","sha256":"` + sha + `"}}}`,
		`{"format":1,"previous":"a","slots":{"a":{},"b":{}},"trial":{"slot":"b","attempts":1,"max_attempts":2,"failure":"x"},"last":{"from":"1","to":"2","result":"rolled_back","reason":"r"}}`,
		`{"format":1,"previous":"b","trial":{"slot":"a","attempts":2,"max_attempts":2}}`,
		`{"format":1,"last":{"from":"","to":"","result":"committed"},"x":{"y":[1,"\u00e9"]}}`,
		`{"format":1,"trial":null,"last":null}`, `{"format":1.0}`, `null`, ``, "{\"format\":1,\"previous\":\"\xff\"}",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, currentB bool) {
		st, err := ParseState(in)
		if err != nil {
			if !errors.Is(err, ErrLayout) {
				t.Fatalf("ParseState(%q): %v is not ErrLayout", in, err)
			}
			return
		}
		b, err := st.marshal()
		if err != nil {
			t.Fatalf("marshal(%+v): %v", st, err)
		}
		back, err := ParseState(b)
		if err != nil || !reflect.DeepEqual(back, st) {
			t.Fatalf("ParseState(marshal(%+v)) = %+v, %v", st, back, err)
		}
		st.Current = SlotA
		if currentB {
			st.Current = SlotB
		}
		checkDecide(t, st)
	})
}

func checkDecide(t *testing.T, st State) {
	before := cloneState(st)
	run, next := Decide(st)
	if !reflect.DeepEqual(st, before) {
		t.Fatalf("Decide changed %+v", before)
	}
	if _, err := next.marshal(); err != nil {
		t.Fatalf("Decide(%+v) gave a state that cannot be written: %v", st, err)
	}
	switch t0, t1 := st.Trial, next.Trial; {
	case t0 == nil:
		if run != st.Current || !reflect.DeepEqual(next, st) {
			t.Fatalf("Decide without a trial = %s, %+v", run, next)
		}
	case t1 != nil:
		if run != t0.Slot || run != st.Current || next.Current != run || t1.Attempts != t0.Attempts+1 || t1.Attempts > t1.MaxAttempts || t0.Failure != "" {
			t.Fatalf("Decide(%+v, trial %+v) = %s, trial %+v", st, t0, run, t1)
		}
	default:
		if run != t0.Slot.Other() || next.Current != run || next.Last == nil || next.Last.Result != RolledBack || next.Last.Reason == "" {
			t.Fatalf("rollback of %+v (trial %+v) = %s, %+v", st, t0, run, next)
		}
	}
}

// FuzzParsePointer: no input panics; only a or b, with or without one
// newline, is accepted.
func FuzzParsePointer(f *testing.F) {
	for _, s := range []string{"a", "b\n", "c", "", "a\n\n", "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParsePointer(in)
		if err != nil {
			if !errors.Is(err, ErrLayout) {
				t.Fatalf("ParsePointer(%q): %v", in, err)
			}
			return
		}
		if string(in) != string(s) && string(in) != string(s)+"\n" || !s.Valid() {
			t.Fatalf("ParsePointer(%q) = %q", in, s)
		}
	})
}

// FuzzParseVersionLine: no input panics; an accepted line is exactly the
// line its fields print as.
func FuzzParseVersionLine(f *testing.F) {
	for _, s := range []string{
		"edge-agent 1.0.0 go1.26.8 linux/amd64\n",
		"edge-agent v1.4.0 commit 3f2c1e0 go1.26.8 linux/arm GOARM=6\n",
		"edge-agent dev go1.26.8 linux/arm GOARM=7,softfloat\n",
		"edge-agent 1.0.0 commit go1 linux/amd64\n", "edge-agent\n", "", "\n\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := ParseVersionLine(in)
		if err != nil {
			return
		}
		line := "edge-agent " + v.Version
		if v.Commit != "" {
			line += " commit " + v.Commit
		}
		line += " " + v.Go + " " + v.Target.String() + "\n"
		if line != in {
			t.Fatalf("ParseVersionLine(%q) = %+v, which prints as %q", in, v, line)
		}
		if checkVersion(v.Version) != nil || checkTarget(v.Target) != nil {
			t.Fatalf("ParseVersionLine(%q) accepted %+v", in, v)
		}
	})
}

// FuzzParseCandidate: no input panics; a refusal carries a reason; an
// accepted candidate is valid and survives json.Marshal and
// ParseCandidate unchanged.
func FuzzParseCandidate(f *testing.F) {
	sha := strings.Repeat("ab", 32)
	for _, s := range []string{
		`{"version":"2.0.0","goos":"linux","goarch":"arm","goarm":"6","size":1,"sha256":"` + sha + `","signature":"-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----"}`,
		`{"version":"2.0.0","goos":"linux","goarch":"amd64","size":67108864,"sha256":"` + sha + `","signature":"x"}`,
		`{"version":"v","version":"w"}`, `{"size":1e3}`, `{"size":-0}`, `[]`, `null`, ``, "{\"version\":\"\xc3\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCandidate(in)
		if err != nil {
			if ReasonOf(err) == 0 {
				t.Fatalf("ParseCandidate(%q): %v has no reason", in, err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCandidate(%q) = %+v: %v", in, c, err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseCandidate(b)
		if err != nil || back != c {
			t.Fatalf("ParseCandidate(Marshal(%+v)) = %+v, %v", c, back, err)
		}
	})
}
