package echo

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"unicode/utf8"

	"edge-agent/transport/testenv"
)

func TestUpperMatchesPythonForEveryByte(t *testing.T) {
	py := testenv.Python(t)
	out, err := exec.Command(py, "-c", "print(bytes(range(256)).upper().hex())").Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 256)
	for i := range got {
		got[i] = byte(i)
	}
	Upper.Apply(got)
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("byte %#02x: got %#02x, bytes.upper() gives %#02x", i, got[i], want[i])
		}
	}
}

func TestModeApply(t *testing.T) {
	for _, tc := range []struct {
		mode     Mode
		in, want string
	}{
		{Upper, "hello", "HELLO"},
		{Upper, "Hello, World! 123 {}`~", "HELLO, WORLD! 123 {}`~"},
		{Upper, "héllo wörld", "HéLLO WöRLD"}, // bytes.upper leaves non-ASCII alone
		{Upper, "你好 abc", "你好 ABC"},
		{Upper, "", ""},
		{Plain, "hello 你好", "hello 你好"},
	} {
		b := []byte(tc.in)
		tc.mode.Apply(b)
		if string(b) != tc.want {
			t.Errorf("%v.Apply(%q) = %q, want %q", tc.mode, tc.in, b, tc.want)
		}
	}
}

func TestModeText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"upper", Upper, true},
		{"plain", Plain, true},
		{"", 0, false},
		{"UPPER", 0, false},
		{"lower", 0, false},
		{"upper ", 0, false},
	} {
		var m Mode
		err := m.UnmarshalText([]byte(tc.in))
		if (err == nil) != tc.ok || (tc.ok && m != tc.want) {
			t.Errorf("UnmarshalText(%q) = %v, %v", tc.in, m, err)
		}
		if !tc.ok && err != nil && !strings.Contains(err.Error(), "upper, plain") {
			t.Errorf("error %q does not say what is accepted", err)
		}
	}
	if got := Mode(9).String(); got != "Mode(9)" {
		t.Errorf("String of unknown mode = %q", got)
	}
}

// FuzzUpper checks the transformation against a byte-at-a-time reference
// and that valid UTF-8 stays valid with the same runes outside ASCII.
func FuzzUpper(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add([]byte("你好 abc \xff\x00z{"))
	f.Fuzz(func(t *testing.T, in []byte) {
		got := bytes.Clone(in)
		Upper.Apply(got)
		want := bytes.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' {
				return r - 32
			}
			return r
		}, in)
		if utf8.Valid(in) && !bytes.Equal(got, want) {
			t.Fatalf("Upper(%q) = %q, want %q", in, got, want)
		}
		if len(got) != len(in) {
			t.Fatalf("length changed: %d -> %d", len(in), len(got))
		}
		for i := range in {
			if c := in[i]; (c < 'a' || c > 'z') && got[i] != c {
				t.Fatalf("byte %d (%#02x) changed to %#02x", i, c, got[i])
			}
		}
	})
}

func ExampleMode_Apply() {
	msg := []byte("hello, 世界")
	Upper.Apply(msg)
	fmt.Println(string(msg))
	// Output: HELLO, 世界
}
