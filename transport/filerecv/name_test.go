package filerecv

import (
	"errors"
	"strings"
	"testing"
)

func TestValidNameAccepts(t *testing.T) {
	for _, name := range []string{
		"澳门最大线上赌场开业啦.mp4", // the seed client's name
		"10 解决粘包问题终极版.mp4",
		"a", "a b", " leading and trailing space ", ".bashrc", "..hidden", "...", ".edge", ".edgefile", "x.edge-",
		"édition-été.txt", "Ωμέγα", "😀.png", "tab-free_name(1).tar.gz", "semi;colon:and*star?",
		"U+00A0\u00a0nbsp", "-rf", "~", "$HOME", "\u00a1\u00ff", // just past the C1 range
		strings.Repeat("a", MaxNameLen),
		strings.Repeat("澳", MaxNameLen/3), // 255 bytes of three-byte runes
	} {
		if err := ValidName(name); err != nil {
			t.Errorf("ValidName(%q) = %v", name, err)
		}
	}
}

func TestValidNameRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
	}{
		{"", "empty"},
		{".", "directory"},
		{"..", "directory"},
		{"a/b", "separator"},
		{"/etc/passwd", "separator"},
		{"../x", "separator"},
		{"a\\b", "separator"},
		{"..\\..\\x", "separator"},
		{"dir/", "separator"},
		{"a\x00b", "U+0000"},
		{"\x00", "U+0000"},
		{"a\nb", "U+000A"},
		{"a\rb", "U+000D"},
		{"tab\there", "U+0009"},
		{"\x1b[31mred", "U+001B"},
		{"a\x1fb", "U+001F"},
		{"del\x7f", "U+007F"},
		{"c1\u0080", "U+0080"},
		{"csi\u009b31m", "U+009B"},
		{"c1\u009f", "U+009F"},
		{strings.Repeat("a", MaxNameLen+1), "256 bytes"},
		{strings.Repeat("澳", MaxNameLen/3) + "a", "256 bytes"},
		{strings.Repeat("/", 1000), "1000 bytes"},
		{"bad\xffutf8", "UTF-8"},
		{"\xe6\xbe", "UTF-8"},     // a rune cut short
		{"\xed\xa0\x80", "UTF-8"}, // a surrogate in UTF-8
		{"mangled\ufffd.mp4", "U+FFFD"},
		{ReservedPrefix + "tmp-x", "keeps for its own"},
		{ReservedPrefix, "keeps for its own"},
	} {
		err := ValidName(tc.name)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeBadName {
			t.Errorf("ValidName(%q) = %v, want a bad_name error", tc.name, err)
			continue
		}
		if !strings.Contains(e.Message, tc.reason) {
			t.Errorf("ValidName(%q) = %q, want the reason %q", tc.name, e.Message, tc.reason)
		}
		if strings.ContainsAny(e.Message, "\x00\x1b\n\u009b") {
			t.Errorf("ValidName(%q): the message carries a control character: %q", tc.name, e.Message)
		}
	}
}

func TestErrorMatchesCode(t *testing.T) {
	err := error(errorf(CodeBusy, "%q is being uploaded on another connection", "a.mp4"))
	if got := err.Error(); got != `filerecv: busy: "a.mp4" is being uploaded on another connection` {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, &Error{Code: CodeBusy}) {
		t.Error("errors.Is does not match the code alone")
	}
	if errors.Is(err, &Error{Code: CodeBadName}) || errors.Is(err, &Error{Code: CodeBusy, Message: "other"}) {
		t.Error("errors.Is matches another code or message")
	}
}
