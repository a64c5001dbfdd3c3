package fleet

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Printable returns s, a string a device sent, safe to show on a terminal:
// whatever could move the cursor, change the terminal's state or reorder
// what it shows is written as an escape a person can read. C0 controls and
// DEL become \x1b, bytes that are not UTF-8 \xff, C1 controls, Unicode
// format characters (the bidi controls such as U+202E among them) and the
// line and paragraph separators \u202e (\U000e0001 beyond the BMP). A
// backslash becomes \\, so an escape cannot be faked by sending its text.
func Printable(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case !unsafeRune(r):
			b.WriteString(s[i : i+n])
		case r < utf8.RuneSelf:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += n
	}
	return b.String()
}

func isPrintable(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == '\\' || unsafeRune(rune(c)) {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || unsafeRune(r) {
			return false
		}
		i += n
	}
	return true
}

// unsafeRune is a character a terminal acts on or that changes how the
// text around it is shown: controls (Cc), format characters (Cf: bidi
// overrides and isolates, zero-width characters) and the separators.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}

// jsonPrintable rewrites encoding/json's output so it shows safely on a
// terminal too: encoding/json escapes C0 controls and U+2028/2029 but
// writes DEL, C1 controls and format characters as they are. Outside
// strings JSON is ASCII punctuation, digits and literals, so every such
// rune is inside a string, where \uXXXX (a surrogate pair beyond the BMP)
// means the same character: the document decodes to the same values.
func jsonPrintable(b []byte) []byte {
	out := make([]byte, 0, len(b)+32)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		// ASCII controls other than DEL are escaped already inside
		// strings and are white space outside them. encoding/json
		// writes valid UTF-8; a stray byte is kept rather than guessed at.
		if r < 0x7f || r == utf8.RuneError && n == 1 || !unsafeRune(r) {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		if r > 0xffff {
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		} else {
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
	}
	return out
}
