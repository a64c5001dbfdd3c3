package update

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"edge-agent/agent/authz"
)

func TestParsePointer(t *testing.T) {
	for in, want := range map[string]Slot{"a": SlotA, "b\n": SlotB, "a\n": SlotA} {
		if got, err := ParsePointer([]byte(in)); err != nil || got != want {
			t.Errorf("ParsePointer(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "\n", "c", "A", "a\n\n", " a", "a ", "ab", "a\r\n", "../a", "\x00", strings.Repeat("a", 100)} {
		if got, err := ParsePointer([]byte(in)); !errors.Is(err, ErrLayout) {
			t.Errorf("ParsePointer(%q) = %q, %v; want ErrLayout", in, got, err)
		}
	}
}

func TestParseState(t *testing.T) {
	sha := strings.Repeat("0", 64)
	good := `{"format":1,"previous":"a","slots":{"a":{"version":"1.0.0","sha256":"` + sha + `"},"b":{"version":"2.0.0","sha256":"` + sha + `"}},` +
		`"trial":{"slot":"b","attempts":1,"max_attempts":2,"failure":"x"},"last":{"from":"0.9","to":"1.0.0","result":"committed"}}`
	st, err := ParseState([]byte(good))
	want := State{Previous: SlotA, Slots: Slots{A: SlotInfo{"1.0.0", sha}, B: SlotInfo{"2.0.0", sha}},
		Trial: &Trial{Slot: SlotB, Attempts: 1, MaxAttempts: 2, Failure: "x"},
		Last:  &Outcome{From: "0.9", To: "1.0.0", Result: Committed}}
	if err != nil || !reflect.DeepEqual(st, want) {
		t.Fatalf("ParseState = %+v, %v", st, err)
	}
	// What marshal writes reads back the same.
	b, err := st.marshal()
	if err != nil {
		t.Fatal(err)
	}
	if back, err := ParseState(b); err != nil || !reflect.DeepEqual(back, st) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if _, err := ParseState([]byte(`{"format":1,"slots":{"a":{}},"future_key":[1,2]}`)); err != nil {
		t.Errorf("unknown keys must be ignored: %v", err)
	}

	bad := map[string]string{
		"empty":                ``,
		"not JSON":             `format=1`,
		"array":                `[]`,
		"no format":            `{"slots":{}}`,
		"format 2":             `{"format":2}`,
		"trailing data":        `{"format":1} {}`,
		"not UTF-8":            "{\"format\":1,\"previous\":\"\xff\"}",
		"previous c":           `{"format":1,"previous":"c"}`,
		"bad slot version":     `{"format":1,"slots":{"a":{"version":"1 0","sha256":"` + sha + `"}}}`,
		"slot without sha":     `{"format":1,"slots":{"a":{"version":"1.0"}}}`,
		"short sha":            `{"format":1,"slots":{"a":{"version":"1.0","sha256":"00"}}}`,
		"trial slot c":         `{"format":1,"previous":"a","trial":{"slot":"c","attempts":0,"max_attempts":2}}`,
		"trial without prev":   `{"format":1,"trial":{"slot":"b","attempts":0,"max_attempts":2}}`,
		"trial previous same":  `{"format":1,"previous":"b","trial":{"slot":"b","attempts":0,"max_attempts":2}}`,
		"negative attempts":    `{"format":1,"previous":"a","trial":{"slot":"b","attempts":-1,"max_attempts":2}}`,
		"huge attempts":        `{"format":1,"previous":"a","trial":{"slot":"b","attempts":101,"max_attempts":2}}`,
		"zero max":             `{"format":1,"previous":"a","trial":{"slot":"b","attempts":0,"max_attempts":0}}`,
		"attempts not integer": `{"format":1,"previous":"a","trial":{"slot":"b","attempts":1.5,"max_attempts":2}}`,
		"attempts overflow":    `{"format":1,"previous":"a","trial":{"slot":"b","attempts":1e300,"max_attempts":2}}`,
		"control in failure":   `{"format":1,"previous":"a","trial":{"slot":"b","attempts":0,"max_attempts":2,"failure":"a\nb"}}`,
		"long failure":         `{"format":1,"previous":"a","trial":{"slot":"b","attempts":0,"max_attempts":2,"failure":"` + strings.Repeat("x", MaxReasonSize+1) + `"}}`,
		"result unknown":       `{"format":1,"last":{"from":"1","to":"2","result":"done"}}`,
		"bad from":             `{"format":1,"last":{"from":"-1","to":"2","result":"committed"}}`,
		"over the size":        `{"format":1,"x":"` + strings.Repeat("x", MaxStateSize) + `"}`,
		"slots not an object":  `{"format":1,"slots":[]}`,
		"trial not an object":  `{"format":1,"trial":"b"}`,
		"format as string":     `{"format":"1"}`,
		"null":                 `null`,
	}
	for name, in := range bad {
		if st, err := ParseState([]byte(in)); !errors.Is(err, ErrLayout) {
			t.Errorf("%s: ParseState(%.60q) = %+v, %v; want ErrLayout", name, in, st, err)
		}
	}
}

func TestParseVersionLine(t *testing.T) {
	good := map[string]VersionInfo{
		"edge-agent 1.0.0 go1.26.8 linux/amd64\n": {Version: "1.0.0", Go: "go1.26.8", Target: Target{"linux", "amd64", ""}},
		"edge-agent v1.4.0-3-g3f2c1e0-dirty commit 3f2c1e0abc go1.26.8 linux/arm GOARM=6\n": {
			Version: "v1.4.0-3-g3f2c1e0-dirty", Commit: "3f2c1e0abc", Go: "go1.26.8", Target: Target{"linux", "arm", "6"}},
		"edge-agent dev go1.26.8 linux/arm GOARM=7,softfloat\n": {Version: "dev", Go: "go1.26.8", Target: Target{"linux", "arm", "7,softfloat"}},
		"edge-agent 2 go1.26.8 linux/arm64\n":                   {Version: "2", Go: "go1.26.8", Target: Target{"linux", "arm64", ""}},
	}
	for in, want := range good {
		if got, err := ParseVersionLine(in); err != nil || got != want {
			t.Errorf("ParseVersionLine(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{
		"", "\n", "edge-agent 1.0.0 go1.26.8 linux/amd64", // no newline
		"edge-agent 1.0.0 go1.26.8 linux/amd64\n\n",
		"edge-agent 1.0.0 go1.26.8 linux/amd64\r\n",
		"edge-agent 1.0.0 go1.26.8 linux/amd64\nmore\n",
		"edge-agent  1.0.0 go1.26.8 linux/amd64\n",
		"edge-agent 1.0.0 go1.26.8 linux/amd64 \n",
		"edge-agent\t1.0.0 go1.26.8 linux/amd64\n",
		"other 1.0.0 go1.26.8 linux/amd64\n",
		"edge-agent 1.0.0\n",
		"edge-agent 1.0.0 go1.26.8\n",
		"edge-agent 1.0.0 go1.26.8 linux\n",
		"edge-agent 1.0.0 go1.26.8 linux/\n",
		"edge-agent 1.0.0 go1.26.8 /amd64\n",
		"edge-agent 1.0.0 go1.26.8 linux/AMD64\n",
		"edge-agent 1.0.0 go1.26.8 linux/amd64 GOARM=6\n",
		"edge-agent 1.0.0 go1.26.8 linux/arm\n",
		"edge-agent 1.0.0 go1.26.8 linux/arm GOARM=8\n",
		"edge-agent 1.0.0 go1.26.8 linux/arm GOARM=\n",
		"edge-agent 1.0.0 go1.26.8 linux/arm ARM=6\n",
		"edge-agent 1.0.0 go1.26.8 linux/arm GOARM=6 extra\n",
		"edge-agent 1.0.0 commit go1.26.8 linux/amd64\n",
		"edge-agent 1.0.0 commit\n",
		"edge-agent -1 go1.26.8 linux/amd64\n",
		"edge-agent 1.0/0 go1.26.8 linux/amd64\n",
		"edge-agent 1.0.0 devel go1.27-abc linux/amd64\n",
		"edge-agent 1.0.0 1.26.8 linux/amd64\n",
		"edge-agent " + strings.Repeat("1", MaxVersionSize+1) + " go1.26.8 linux/amd64\n",
		"edge-agent 1.0.0 go1.26.8 linux/amd64\x00\n",
		"edge-agent 1.0.0 go1.26.8 linux/amd64" + strings.Repeat(" ", MaxVersionOutput) + "\n",
		"edge-agent 1.0.0 go\xff linux/amd64\n",
	} {
		if got, err := ParseVersionLine(in); err == nil {
			t.Errorf("ParseVersionLine(%.80q) = %+v, want an error", in, got)
		}
	}
}

func TestParseCandidate(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	sig := "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"
	sigJSON := `"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n"`
	obj := func(fields ...string) string { return "{" + strings.Join(fields, ",") + "}" }
	base := []string{`"version":"2.0.0"`, `"goos":"linux"`, `"goarch":"arm"`, `"goarm":"6"`, `"size":1234`, `"sha256":"` + sha + `"`, `"signature":` + sigJSON}
	with := func(i int, field string) string {
		f := append([]string(nil), base...)
		if field == "" {
			f = append(f[:i], f[i+1:]...)
		} else {
			f[i] = field
		}
		return obj(f...)
	}
	c, err := ParseCandidate([]byte(obj(base...)))
	want := Candidate{Version: "2.0.0", GOOS: "linux", GOARCH: "arm", GOARM: "6", Size: 1234, SHA256: sha, Signature: sig}
	if err != nil || c != want {
		t.Fatalf("ParseCandidate = %+v, %v", c, err)
	}
	amd := obj(`"version":"2.0.0"`, `"goos":"linux"`, `"goarch":"amd64"`, `"size":1`, `"sha256":"`+strings.ToUpper(sha)+`"`, `"signature":`+sigJSON)
	if _, err := ParseCandidate([]byte(amd)); err != nil {
		t.Errorf("without goarm, upper-case sha256: %v", err)
	}

	bad := []struct {
		name, in string
		reason   Reason
	}{
		{"not JSON", `{`, Malformed},
		{"not an object", `[]`, Malformed},
		{"null", `null`, Malformed},
		{"trailing data", obj(base...) + `{}`, Malformed},
		{"unknown key", with(0, `"url":"http://x"`), Malformed},
		{"repeated key", obj(append(base, `"version":"3.0.0"`)...), Malformed},
		{"missing version", with(0, ""), Malformed},
		{"missing signature", with(6, ""), Malformed},
		{"version a number", with(0, `"version":2`), Malformed},
		{"version null", with(0, `"version":null`), Malformed},
		{"size a string", with(4, `"size":"1234"`), Malformed},
		{"size a fraction", with(4, `"size":1.5`), Malformed},
		{"size an exponent", with(4, `"size":1e3`), Malformed},
		{"size too large for int64", with(4, `"size":99999999999999999999`), Malformed},
		{"not UTF-8", "{\"version\":\"\xff\"}", Malformed},
		{"over the size", obj(append(base, `"x":"`+strings.Repeat("x", MaxCandidateSize)+`"`)...), Malformed},
		{"version with a space", with(0, `"version":"2.0 beta"`), Version},
		{"version with a slash", with(0, `"version":"../x"`), Version},
		{"version empty", with(0, `"version":""`), Version},
		{"goos upper case", with(1, `"goos":"Linux"`), Architecture},
		{"goarm missing for arm", with(3, ""), Architecture},
		{"goarm 8", with(3, `"goarm":"8"`), Architecture},
		{"goarm for amd64", with(2, `"goarch":"amd64"`), Architecture},
		{"size zero", with(4, `"size":0`), Size},
		{"size negative", with(4, `"size":-1`), Size},
		{"size over the limit", with(4, `"size":67108865`), Size},
		{"sha256 short", with(5, `"sha256":"abcd"`), Checksum},
		{"sha256 not hex", with(5, `"sha256":"`+strings.Repeat("zz", 32)+`"`), Checksum},
		{"signature empty", with(6, `"signature":""`), Signature},
	}
	for _, tc := range bad {
		c, err := ParseCandidate([]byte(tc.in))
		if ReasonOf(err) != tc.reason {
			t.Errorf("%s: ParseCandidate = %+v, %v; want %v", tc.name, c, err, tc.reason)
		}
	}
}

func TestReasons(t *testing.T) {
	want := "size checksum signature unknown_key version architecture not_executable io busy malformed download"
	var got []string
	for _, r := range Reasons() {
		got = append(got, r.String())
	}
	if strings.Join(got, " ") != want {
		t.Errorf("reasons: %v", got)
	}
	if s := Reason(0).String(); s != "Reason(0)" {
		t.Errorf("zero reason: %q", s)
	}
	err := refuseErr(IO, errors.New("cause"), "writing in %s", "/x")
	if err.Error() != "io: writing in /x: cause" || ReasonOf(err) != IO || errors.Unwrap(err).Error() != "cause" {
		t.Errorf("refusal: %v", err)
	}
	if errors.Is(err, &Refusal{Reason: Size}) || !errors.Is(err, &Refusal{Reason: IO}) {
		t.Error("errors.Is on reasons")
	}
	// A command refusal has the same number as Size, and is not one.
	if cmd := authz.Refuse(authz.Malformed, "x"); ReasonOf(cmd) != 0 || errors.Is(cmd, &Refusal{Reason: Size}) {
		t.Error("an authz refusal reads as an update one")
	}
	if b, _ := json.Marshal(map[string]Reason{"error": NotExecutable}); string(b) != `{"error":"not_executable"}` {
		t.Errorf("JSON %s", b)
	}
}
