package authz

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	good := []struct {
		in   string
		want Command
	}{
		{`{"device":"pi-1","action":"reboot","counter":1}`, Command{Device: "pi-1", Action: "reboot", Counter: 1}},
		{`{"device":"pi-1","action":"script:x","args":["a","b c","\u00e9\n"],"counter":1764547200123456789}`,
			Command{Device: "pi-1", Action: "script:x", Args: []string{"a", "b c", "é\n"}, Counter: 1764547200123456789}},
		{" {\"counter\": 9223372036854775807 ,\n\"action\":\"r\", \"device\":\"d\", \"args\": []}\n",
			Command{Device: "d", Action: "r", Args: []string{}, Counter: 1<<63 - 1}},
	}
	for _, c := range good {
		got, err := ParseCommand([]byte(c.in))
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}

	big := `"` + strings.Repeat("a", MaxArgSize+1) + `"`
	many := `"a"` + strings.Repeat(`,"a"`, MaxArgs)
	bad := []struct{ name, in string }{
		{"empty", ``},
		{"truncated", `{"device":"pi-1","action":"reboot","counter":1`},
		{"not an object", `["pi-1"]`},
		{"null", `null`},
		{"trailing object", `{"device":"d","action":"a","counter":1}{}`},
		{"trailing garbage", `{"device":"d","action":"a","counter":1} x`},
		{"unknown key", `{"device":"d","action":"a","counter":1,"extra":1}`},
		{"key in other case", `{"Device":"d","action":"a","counter":1}`},
		{"duplicate key", `{"device":"d","action":"a","counter":1,"device":"e"}`},
		{"duplicate counter", `{"device":"d","action":"a","counter":1,"counter":2}`},
		{"no counter", `{"device":"d","action":"a"}`},
		{"no device", `{"action":"a","counter":1}`},
		{"no action", `{"device":"d","counter":1}`},
		{"empty device", `{"device":"","action":"a","counter":1}`},
		{"device null", `{"device":null,"action":"a","counter":1}`},
		{"device number", `{"device":1,"action":"a","counter":1}`},
		{"counter 0", `{"device":"d","action":"a","counter":0}`},
		{"counter negative", `{"device":"d","action":"a","counter":-1}`},
		{"counter 2^63", `{"device":"d","action":"a","counter":9223372036854775808}`},
		{"counter 2^64", `{"device":"d","action":"a","counter":18446744073709551616}`},
		{"counter fraction", `{"device":"d","action":"a","counter":1.5}`},
		{"counter 1.0", `{"device":"d","action":"a","counter":1.0}`},
		{"counter exponent", `{"device":"d","action":"a","counter":1e3}`},
		{"counter string", `{"device":"d","action":"a","counter":"1"}`},
		{"counter leading zero", `{"device":"d","action":"a","counter":01}`},
		{"args not array", `{"device":"d","action":"a","args":"a","counter":1}`},
		{"args null", `{"device":"d","action":"a","args":null,"counter":1}`},
		{"arg number", `{"device":"d","action":"a","args":[1],"counter":1}`},
		{"arg nested", `{"device":"d","action":"a","args":[["a"]],"counter":1}`},
		{"huge arg", `{"device":"d","action":"a","args":[` + big + `],"counter":1}`},
		{"too many args", `{"device":"d","action":"a","args":[` + many + `],"counter":1}`},
		{"NUL escaped in arg", `{"device":"d","action":"a","args":["a\u0000b"],"counter":1}`},
		{"NUL escaped in device", `{"device":"d\u0000","action":"a","counter":1}`},
		{"raw NUL", "{\"device\":\"d\x00\",\"action\":\"a\",\"counter\":1}"},
		{"raw newline in string", "{\"device\":\"d\n\",\"action\":\"a\",\"counter\":1}"},
		{"invalid UTF-8", "{\"device\":\"d\xff\",\"action\":\"a\",\"counter\":1}"},
		{"BOM", "\ufeff{\"device\":\"d\",\"action\":\"a\",\"counter\":1}"},
	}
	for _, c := range bad {
		_, err := ParseCommand([]byte(c.in))
		if ReasonOf(err) != Malformed {
			t.Errorf("%s: ParseCommand(%.80q) = %v, want a malformed refusal", c.name, c.in, err)
		}
	}
}

func TestCommandMarshal(t *testing.T) {
	c := Command{Device: "pi-1", Action: "script:x", Args: []string{"<a&b>"}, Counter: 1764547200123456789}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"device":"pi-1","action":"script:x","args":["<a&b>"],"counter":1764547200123456789}`
	if string(b) != want {
		t.Fatalf("Marshal = %s, want %s", b, want)
	}
	back, err := ParseCommand(b)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("ParseCommand(Marshal) = %+v, %v", back, err)
	}
	b, _ = Command{Device: "d", Action: "reboot", Counter: 1}.Marshal()
	if string(b) != `{"device":"d","action":"reboot","counter":1}` {
		t.Errorf("without args: %s", b)
	}
	for _, bad := range []Command{
		{Action: "a", Counter: 1},
		{Device: "d", Counter: 1},
		{Device: "d", Action: "a"},
		{Device: "d", Action: "a", Counter: 1 << 63},
		{Device: "d", Action: "a", Counter: 1, Args: make([]string, MaxArgs+1)},
		{Device: "d", Action: "a", Counter: 1, Args: []string{"\x00"}},
		{Device: "d", Action: "a", Counter: 1, Args: []string{"\xff"}},
	} {
		if _, err := bad.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) succeeded", bad)
		}
	}
}
