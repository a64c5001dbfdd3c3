package firmwarebridge_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	fb "edge-agent/firmware-bridge"
)

// editorRun types in and returns the display, every result other than
// EditNone, and Line after each EditLine.
func editorRun(e *fb.Editor, in string) (out string, results []fb.EditResult, lines []string) {
	var display []byte
	for i := 0; i < len(in); i++ {
		var r fb.EditResult
		display, r = e.Feed(in[i], display)
		if r == fb.EditNone {
			continue
		}
		results = append(results, r)
		if r == fb.EditLine {
			lines = append(lines, e.Line())
		}
	}
	return string(display), results, lines
}

func TestEditor(t *testing.T) {
	const (
		line = fb.EditLine
		long = fb.EditTooLong
		stop = fb.EditCancel
	)
	tests := []struct {
		name    string
		max     int
		echo    bool
		in      string
		out     string
		results []fb.EditResult
		lines   []string
	}{
		{"CR", 0, true, "help\r", "help\r\n", []fb.EditResult{line}, []string{"help"}},
		{"LF", 0, true, "help\n", "help\r\n", []fb.EditResult{line}, []string{"help"}},
		{"CRLF once", 0, true, "help\r\n", "help\r\n", []fb.EditResult{line}, []string{"help"}},
		{"empty line", 0, true, "\r", "\r\n", []fb.EditResult{line}, []string{""}},
		{"backspace", 0, true, "stat\x7fus\r", "stat\b \bus\r\n", []fb.EditResult{line}, []string{"staus"}},
		{"backspace typo", 0, true, "statu\x7fus\r", "statu\b \bus\r\n", []fb.EditResult{line}, []string{"status"}},
		{"BS", 0, true, "ab\x08c\r", "ab\b \bc\r\n", []fb.EditResult{line}, []string{"ac"}},
		{"backspace rune", 0, true, "añ\x7f\r", "añ\b \b\r\n", []fb.EditResult{line}, []string{"a"}},
		{"backspace 3-byte rune", 0, true, "a€\x7f\x7f\r", "a€\b \b\b \b\r\n", []fb.EditResult{line}, []string{""}},
		{"backspace on empty", 0, true, "\x7f\x08\x7fa\r", "a\r\n", []fb.EditResult{line}, []string{"a"}},
		{"Ctrl-U", 0, true, "abc\x15x\r", "abc\b \b\b \b\b \bx\r\n", []fb.EditResult{line}, []string{"x"}},
		{"Ctrl-U runes", 0, true, "añ\x15\r", "añ\b \b\b \b\r\n", []fb.EditResult{line}, []string{""}},
		{"Ctrl-U empty", 0, true, "\x15\r", "\r\n", []fb.EditResult{line}, []string{""}},
		{"Ctrl-C", 0, true, "abc\x03def\r", "abc^C\r\ndef\r\n", []fb.EditResult{stop, line}, []string{"def"}},
		{"Ctrl-C no echo", 0, false, "abc\x03", "^C\r\n", []fb.EditResult{stop}, nil},
		{"arrows and delete key", 0, true, "ab\x1b[A\x1b[D\x1b[3~\x1b[1;5Cc\r", "abc\r\n", []fb.EditResult{line}, []string{"abc"}},
		{"SS3", 0, true, "\x1bOPab\r", "ab\r\n", []fb.EditResult{line}, []string{"ab"}},
		{"ESC letter", 0, true, "a\x1bxb\r", "ab\r\n", []fb.EditResult{line}, []string{"ab"}},
		{"CR ends a sequence", 0, true, "ab\x1b[12\rcd\r", "ab\r\ncd\r\n", []fb.EditResult{line, line}, []string{"ab", "cd"}},
		{"CR after ESC", 0, true, "ab\x1b\rcd\r", "ab\r\ncd\r\n", []fb.EditResult{line, line}, []string{"ab", "cd"}},
		{"Ctrl-C ends a sequence", 0, true, "ab\x1b[\x03cd\r", "ab^C\r\ncd\r\n", []fb.EditResult{stop, line}, []string{"cd"}},
		{"unended CSI gives up", 0, true, "\x1b[" + strings.Repeat("1", 20) + "x\r", "1111x\r\n", []fb.EditResult{line}, []string{"1111x"}},
		{"overlong", 8, true, "0123456789\rok\r", "01234567\a\a\r\nok\r\n", []fb.EditResult{long, line}, []string{"ok"}},
		{"overlong edited", 4, true, "abcde\x7f\r", "abcd\a\b \b\r\n", []fb.EditResult{long}, nil},
		{"overlong cleared", 4, true, "abcde\x15ab\r", "abcd\a\b \b\b \b\b \b\b \bab\r\n", []fb.EditResult{long}, nil},
		{"overlong cancelled", 4, true, "abcde\x03ab\r", "abcd\a^C\r\nab\r\n", []fb.EditResult{stop, line}, []string{"ab"}},
		{"exactly max", 4, true, "abcd\r", "abcd\r\n", []fb.EditResult{line}, []string{"abcd"}},
		{"overlong no echo", 4, false, "abcde\r", "\r\n", []fb.EditResult{long}, nil},
		{"no echo", 0, false, "secret\x7fx\x15pw\r", "\r\n", []fb.EditResult{line}, []string{"pw"}},
		{"lone LF later", 0, true, "a\rb\n", "a\r\nb\r\n", []fb.EditResult{line, line}, []string{"a", "b"}},
		{"LF after CRLF", 0, true, "a\r\n\n", "a\r\n\r\n", []fb.EditResult{line, line}, []string{"a", ""}},
		{"CR CR", 0, true, "a\r\r", "a\r\n\r\n", []fb.EditResult{line, line}, []string{"a", ""}},
		{"controls ignored", 0, true, "a\tb\x01\x00\x1f\r", "ab\r\n", []fb.EditResult{line}, []string{"ab"}},
		{"high bytes kept", 0, true, "\xff\x80\r", "\xff\x80\r\n", []fb.EditResult{line}, []string{"\xff\x80"}},
		{"unended", 0, true, "abc", "abc", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &fb.Editor{Max: tt.max, Echo: tt.echo}
			out, results, lines := editorRun(e, tt.in)
			if out != tt.out {
				t.Errorf("display %q, want %q", out, tt.out)
			}
			if !slices.Equal(results, tt.results) {
				t.Errorf("results %v, want %v", results, tt.results)
			}
			if !slices.Equal(lines, tt.lines) {
				t.Errorf("lines %q, want %q", lines, tt.lines)
			}
		})
	}
}

// TestEditorAcrossCalls checks that state carries from one read of the
// serial port to the next.
func TestEditorAcrossCalls(t *testing.T) {
	steps := []struct {
		in, out string
		results []fb.EditResult
	}{
		{"ls\r", "ls\r\n", []fb.EditResult{fb.EditLine}},
		{"\n", "", nil}, // second half of the CRLF
		{"\n", "\r\n", []fb.EditResult{fb.EditLine}},
		{"ab\x1b", "ab", nil},
		{"[", "", nil},
		{"Dc\r", "c\r\n", []fb.EditResult{fb.EditLine}},
	}
	e := &fb.Editor{Echo: true}
	for i, s := range steps {
		out, results, _ := editorRun(e, s.in)
		if out != s.out || !slices.Equal(results, s.results) {
			t.Errorf("step %d %q: %q %v, want %q %v", i, s.in, out, results, s.out, s.results)
		}
	}
	if e.Line() != "abc" {
		t.Errorf("Line = %q, want abc", e.Line())
	}
}

func TestEditorLineKept(t *testing.T) {
	e := &fb.Editor{Max: 4}
	editorRun(e, "ok\r")
	if _, results, _ := editorRun(e, "abcdef\rx\x03"); !slices.Equal(results, []fb.EditResult{fb.EditTooLong, fb.EditCancel}) {
		t.Fatalf("results %v", results)
	}
	if e.Line() != "ok" {
		t.Errorf("Line = %q after a rejected and a cancelled line, want ok", e.Line())
	}
}

func TestEditorReset(t *testing.T) {
	tests := []struct{ before, after, want string }{
		{"abc", "d\r", "d"},
		{"\x1b[", "A\r", "A"},
		{"\x1b", "A\r", "A"},
		{"x\r", "\nA\r", ""}, // the LF is no longer the second half of a CRLF
	}
	for _, tt := range tests {
		e := &fb.Editor{}
		editorRun(e, tt.before)
		e.Reset()
		if _, _, lines := editorRun(e, tt.after); len(lines) == 0 || lines[0] != tt.want {
			t.Errorf("%q, Reset, %q: lines %q, want first %q", tt.before, tt.after, lines, tt.want)
		}
	}
	e := &fb.Editor{Max: 2}
	editorRun(e, "abc")
	e.Reset()
	if _, results, _ := editorRun(e, "ab\r"); !slices.Equal(results, []fb.EditResult{fb.EditLine}) {
		t.Errorf("after Reset of an overlong line: %v, want line", results)
	}
}

func TestEditorMaxLowered(t *testing.T) {
	e := &fb.Editor{Max: 8}
	editorRun(e, "abcdef")
	e.Max = 4
	if _, results, _ := editorRun(e, "\r"); !slices.Equal(results, []fb.EditResult{fb.EditTooLong}) {
		t.Errorf("results %v, want too long", results)
	}
}

func TestEditorDefaultMax(t *testing.T) {
	e := &fb.Editor{}
	in := strings.Repeat("x", fb.DefaultMaxLine)
	if _, _, lines := editorRun(e, in+"\r"); !slices.Equal(lines, []string{in}) {
		t.Errorf("a %d-byte line was not accepted", fb.DefaultMaxLine)
	}
	if _, results, _ := editorRun(e, in+"x\r"); !slices.Equal(results, []fb.EditResult{fb.EditTooLong}) {
		t.Errorf("a %d-byte line: %v, want too long", fb.DefaultMaxLine+1, results)
	}
}

// Stray tells a line that held control bytes no key sends (line noise)
// from a typed one, for each line separately.
func TestEditorStray(t *testing.T) {
	tests := []struct {
		in    string
		lines []string
		stray []bool
	}{
		{"help\r", []string{"help"}, []bool{false}},
		{"\r", []string{""}, []bool{false}},
		{"a\tb\r", []string{"ab"}, []bool{false}},
		{"st\x7fat\x15us\x1b[A\r", []string{"us"}, []bool{false}},
		{"\x00\r", []string{""}, []bool{true}},
		{"pass\x00word\r", []string{"password"}, []bool{true}},
		{"\x01x\r", []string{"x"}, []bool{true}},
		{"\x1fx\ry\r", []string{"x", "y"}, []bool{true, false}},
		{"\x00\x15x\r", []string{"x"}, []bool{true}},  // Ctrl-U empties the line, not its past
		{"\x00\x03x\r", []string{"x"}, []bool{false}}, // Ctrl-C drops it all
		{"\xff\xfe\r", []string{"\xff\xfe"}, []bool{false}},
	}
	for _, tt := range tests {
		e := &fb.Editor{}
		var lines []string
		var stray []bool
		for i := 0; i < len(tt.in); i++ {
			if _, r := e.Feed(tt.in[i], nil); r == fb.EditLine {
				lines = append(lines, e.Line())
				stray = append(stray, e.Stray())
			}
		}
		if !slices.Equal(lines, tt.lines) || !slices.Equal(stray, tt.stray) {
			t.Errorf("%q: lines %q stray %v, want %q %v", tt.in, lines, stray, tt.lines, tt.stray)
		}
	}
	e := &fb.Editor{}
	editorRun(e, "\x00abc")
	e.Reset()
	if editorRun(e, "abc\r"); e.Stray() {
		t.Error("Stray after Reset")
	}
}

func TestEditResultString(t *testing.T) {
	tests := map[fb.EditResult]string{
		fb.EditNone:       "none",
		fb.EditLine:       "line",
		fb.EditTooLong:    "too long",
		fb.EditCancel:     "cancel",
		fb.EditResult(42): "EditResult(42)",
	}
	for r, want := range tests {
		if got := r.String(); got != want {
			t.Errorf("String = %q, want %q", got, want)
		}
	}
}

func ExampleEditor() {
	e := &fb.Editor{Echo: true}
	var display []byte
	// A typo fixed with backspace, an arrow key pressed by mistake, then
	// a line given up with Ctrl-C.
	for _, c := range []byte("statu\x7fus\x1b[A\rreboot\x03") {
		var r fb.EditResult
		display, r = e.Feed(c, display)
		switch r {
		case fb.EditLine:
			fmt.Printf("run %q\n", e.Line())
		case fb.EditCancel:
			fmt.Println("cancelled")
		}
	}
	fmt.Printf("display %q\n", display)
	// Output:
	// run "status"
	// cancelled
	// display "statu\b \bus\r\nreboot^C\r\n"
}

func FuzzEditor(f *testing.F) {
	f.Add([]byte("help\r"), true)
	f.Add([]byte("stat\x7fus\r\n\x1b[3~añ\x7f\x15\x03"), true)
	f.Add([]byte("0123456789abcdefghij\r"), false)
	f.Add([]byte("\x1b[111111111111111111x\r"), true)
	f.Fuzz(func(t *testing.T, in []byte, echo bool) {
		const limit = 16
		e := &fb.Editor{Max: limit, Echo: echo}
		var out []byte
		for _, c := range in {
			var r fb.EditResult
			out, r = e.Feed(c, out)
			line := e.Line()
			if len(line) > limit {
				t.Fatalf("%d-byte line over Max %d", len(line), limit)
			}
			for _, c := range []byte(line) {
				if c < 0x20 || c == 0x7f {
					t.Fatalf("control byte %#x in %q", c, line)
				}
			}
			if r > fb.EditCancel {
				t.Fatalf("result %v", r)
			}
		}
		if !echo && strings.Trim(string(out), "^C\r\n") != "" {
			t.Fatalf("without echo the display was %q", out)
		}

		printable := len(in) <= limit
		for _, c := range in {
			printable = printable && c >= 0x20 && c <= 0x7e
		}
		if !printable {
			return
		}
		e = &fb.Editor{Max: limit, Echo: echo}
		display, results, lines := editorRun(e, string(in)+"\r")
		if !slices.Equal(results, []fb.EditResult{fb.EditLine}) || !slices.Equal(lines, []string{string(in)}) {
			t.Fatalf("typed %q: %v %q", in, results, lines)
		}
		if want := string(in) + "\r\n"; echo && display != want {
			t.Fatalf("typed %q: display %q, want %q", in, display, want)
		}
		if e.Stray() {
			t.Fatalf("typed %q: taken for noise", in)
		}
	})
}
