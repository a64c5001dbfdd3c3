package actions

import (
	"strings"
	"testing"
)

// FuzzParseAction: no topic level panics the parser, and what it accepts
// names one of the fixed actions or one plain file in the directory.
func FuzzParseAction(f *testing.F) {
	for _, s := range []string{"reboot", "restart", "poweroff", "script:backup", "script:..", "script:a/b", "script:.x", "script:", "script:\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		name, err := ParseAction(in)
		if err != nil {
			return
		}
		switch {
		case name == "" && in != Restart && in != Reboot && in != PowerOff,
			name != "" && in != ScriptPrefix+name,
			strings.ContainsAny(name, "/\x00"), name == ".", name == "..", strings.HasPrefix(name, "."),
			len(name) > MaxScriptName:
			t.Fatalf("ParseAction(%q) = %q", in, name)
		}
	})
}
