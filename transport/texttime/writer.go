package texttime

import (
	"unicode"
	"unicode/utf8"
)

// writer appends formatted output to b and stops for good once b would
// grow past max, so that a huge field width is refused before any of its
// padding is written.
type writer struct {
	b      []byte
	max    int // highest len(b) allowed
	failed bool
}

// room reports whether n more bytes fit, and records when they do not.
func (w *writer) room(n int) bool {
	if w.failed || n > w.max-len(w.b) {
		w.failed = true
		return false
	}
	return true
}

func (w *writer) fill(n int, c byte) {
	if n <= 0 || !w.room(n) {
		return
	}
	start := len(w.b)
	w.b = append(w.b, make([]byte, n)...)
	for i := start; i < len(w.b); i++ {
		w.b[i] = c
	}
}

func (w *writer) byte(c byte) {
	if w.room(1) {
		w.b = append(w.b, c)
	}
}

// spec is what a conversion's flags and width ask for.
type spec struct {
	pad   byte // 0 (none given), '-', '_' or '0'
	width int  // -1 when none given
	upper bool // ^, or # on a name
	lower bool // # on %Z and %p, always on %P; wins over upper
}

// padChar is the filler glibc's add() uses in front of a field narrower
// than its width: zeros only when the 0 flag was given.
func (sp *spec) padChar() byte {
	if sp.pad == '0' {
		return '0'
	}
	return ' '
}

// text appends s as glibc's cpy() does: padded on the left to the width,
// counted in characters because Python calls the wide-character
// strftime, then case-mapped as towupper and towlower do in a UTF-8
// locale.
func text[S ~string | ~[]byte](w *writer, sp *spec, s S) {
	if sp.width > 0 {
		w.fill(sp.width-runeCount(s), sp.padChar())
	}
	if w.failed {
		return
	}
	start := len(w.b)
	switch {
	case sp.lower:
		w.b = appendMapped(w.b, s, unicode.ToLower)
	case sp.upper:
		w.b = appendMapped(w.b, s, unicode.ToUpper)
	default:
		w.b = append(w.b, s...)
	}
	// Case mapping can change a character's length, so the bound is
	// checked after the (short) copy rather than before it.
	if len(w.b) > w.max {
		w.b = w.b[:start]
		w.failed = true
	}
}

func runeCount[S ~string | ~[]byte](s S) int {
	n := 0
	for i := 0; i < len(s); n++ {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		i += size
	}
	return n
}

// appendMapped appends s with f applied to each character; bytes that are
// not UTF-8 are copied unchanged.
func appendMapped[S ~string | ~[]byte](b []byte, s S, f func(rune) rune) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			b = append(b, byte(f(rune(c))))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			b = append(b, c)
		} else {
			b = utf8.AppendRune(b, f(r))
		}
		i += size
	}
	return b
}

// number appends v as glibc's do_number does: at least digits
// characters,
// filled with zeros after the sign, or with spaces in front for _; the -
// flag drops that filling, and then only the width pads, with spaces.
func (w *writer) number(sp *spec, digits int, v int64) {
	var buf [24]byte
	i := len(buf)
	u := uint64(v)
	if v < 0 {
		u = -u
	}
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if v < 0 {
		i--
		buf[i] = '-'
	}
	s := buf[i:]
	width := sp.width
	if padding := digits - len(s); sp.pad != '-' && padding > 0 {
		if sp.pad == '_' {
			w.fill(padding, ' ')
			width = max(width-padding, 0)
		} else {
			if v < 0 {
				w.byte('-')
				s = s[1:]
			}
			w.fill(padding, '0')
			width = 0
		}
	}
	if width > len(s) {
		w.fill(width-len(s), sp.padChar())
	}
	if w.room(len(s)) {
		w.b = append(w.b, s...)
	}
}

// upperASCII upper-cases b[start:] in place; a sub-format's output is
// ASCII, so no character changes length.
func (w *writer) upperASCII(start int) {
	for i := start; i < len(w.b); i++ {
		if c := w.b[i]; 'a' <= c && c <= 'z' {
			w.b[i] = c - ('a' - 'A')
		}
	}
}

// padFront makes the output appended since start at least width
// characters by shifting it right and filling the gap, as a sub-format
// such as %c is padded as a whole.
func (w *writer) padFront(start, width int, c byte) {
	n := width - (len(w.b) - start)
	if n <= 0 || !w.room(n) {
		return
	}
	end := len(w.b)
	w.b = append(w.b, make([]byte, n)...)
	copy(w.b[start+n:], w.b[start:end])
	for i := start; i < start+n; i++ {
		w.b[i] = c
	}
}
