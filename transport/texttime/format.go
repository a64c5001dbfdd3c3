package texttime

import (
	"errors"
	"math"
	"time"
	"unicode/utf8"
)

// DefaultFormat is what the seed server formats for an empty datagram.
const DefaultFormat = "%Y-%m-%d-%X"

// ErrTooLong is returned by AppendFormatLimit when the output would be
// longer than its limit.
var ErrTooLong = errors.New("texttime: formatted time longer than the limit")

// AppendFormat appends t, in its own location, formatted by format as
// Python's time.strftime(format, time.localtime(secs)) formats it on
// Linux with glibc (see the package documentation), and returns the
// extended buffer. Widths are honoured in full, up to glibc's cap of
// 2^31-1 characters; a format that comes from the network belongs in
// AppendFormatLimit.
func AppendFormat(dst []byte, format string, t time.Time) []byte {
	b, _ := AppendFormatLimit(dst, format, t, math.MaxInt)
	return b
}

// AppendFormatLimit is AppendFormat that appends at most limit bytes. When
// the output would be longer it stops at once and returns dst unchanged
// with ErrTooLong, so a width such as %999999999Y costs nothing.
func AppendFormatLimit(dst []byte, format string, t time.Time, limit int) ([]byte, error) {
	return appendFormat(dst, format, t, limit)
}

func appendFormat[S ~string | ~[]byte](dst []byte, format S, t time.Time, limit int) ([]byte, error) {
	tm := brokenDown(t)
	w := writer{b: dst, max: len(dst) + max(limit, 0)}
	if limit > math.MaxInt-len(dst) {
		w.max = math.MaxInt
	}
	formatInto(&w, format, &tm)
	if w.failed {
		return dst, ErrTooLong
	}
	return w.b, nil
}

func formatInto[S ~string | ~[]byte](w *writer, f S, t *tm) {
	for i := 0; i < len(f) && !w.failed; i++ {
		if f[i] != '%' {
			j := i + 1
			for j < len(f) && f[j] != '%' {
				j++
			}
			if w.room(j - i) {
				w.b = append(w.b, f[i:j]...)
			}
			i = j - 1
			continue
		}
		i = conversion(w, f, i, t)
	}
}

// Which modifier each conversion accepts in glibc 2.36; with any other
// the whole sequence is copied as unknown. These are not the lists of the
// manual page: glibc also takes %Eu, %Ou, %Oj, %Ob, %OB, %EP and more.
const (
	knownPlain = "%ABCDFGHIMPRSTUVWXYZabcdeghjklmnprstuwxyz"
	knownE     = "%CPRTXYZcnprstuxyz"
	knownO     = "%BCGHIMPRSTUVWZbdeghjklmnprstuwyz"
)

// accepts has, for each ASCII conversion character, bit 1 set when glibc
// knows it plain, bit 2 with E, bit 4 with O.
var accepts = func() (a [utf8.RuneSelf]uint8) {
	for bit, known := range []string{knownPlain, knownE, knownO} {
		for i := range len(known) {
			a[known[i]] |= 1 << bit
		}
	}
	return a
}()

// maxWidth is where glibc stops reading a width: INT_MAX.
const maxWidth = math.MaxInt32

// conversion formats the conversion that starts with the % at f[start]
// and returns the index of its last byte. The grammar is glibc's:
// %[_-0^#]*[0-9]*[EO]?c.
func conversion[S ~string | ~[]byte](w *writer, f S, start int, t *tm) (last int) {
	sp := spec{width: -1}
	swapCase := false
	j := start + 1
flags:
	for ; j < len(f); j++ {
		switch f[j] {
		case '_', '-', '0':
			sp.pad = f[j]
		case '^':
			sp.upper = true
		case '#':
			swapCase = true
		default:
			break flags
		}
	}
	if j < len(f) && isDigit(f[j]) {
		sp.width = 0
		for ; j < len(f) && isDigit(f[j]); j++ {
			d := int(f[j] - '0')
			if sp.width > (maxWidth-d)/10 {
				sp.width = maxWidth
			} else {
				sp.width = sp.width*10 + d
			}
		}
	}
	var mod byte
	if j < len(f) && (f[j] == 'E' || f[j] == 'O') {
		mod = f[j]
		j++
	}
	if j == len(f) {
		// A format that ends inside a conversion is copied from its %.
		text(w, &sp, f[start:])
		return len(f) - 1
	}
	c := f[j]
	if c >= utf8.RuneSelf {
		_, size := utf8.DecodeRuneInString(string(f[j:min(j+utf8.UTFMax, len(f))]))
		text(w, &sp, f[start:j+size])
		return j + size - 1
	}
	// glibc applies # to these names before it looks at the modifier, so
	// even their unknown forms (%#Eb) come out in upper case.
	if swapCase && (c == 'b' || c == 'h' || c == 'B') {
		sp.upper = true
	}
	var bit uint8 = 1
	switch mod {
	case 'E':
		bit = 2
	case 'O':
		bit = 4
	}
	if accepts[c]&bit == 0 {
		text(w, &sp, f[start:j+1])
		return j
	}
	convert(w, &sp, swapCase, c, t)
	return j
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// convert formats one known conversion c.
func convert(w *writer, sp *spec, swapCase bool, c byte, t *tm) {
	// num is glibc's DO_NUMBER: at least d digits, or the width if wider.
	num := func(d int, v int64) { w.number(sp, max(d, sp.width), v) }
	// spaceNum is DO_NUMBER_SPACEPAD: as num, but filled with spaces
	// unless 0 or - says otherwise.
	spaceNum := func(d int, v int64) {
		if sp.pad != '0' && sp.pad != '-' {
			sp.pad = '_'
		}
		num(d, v)
	}
	if swapCase {
		switch c {
		case 'a', 'A', 'b', 'B', 'h':
			sp.upper, sp.lower = true, false
		case 'p', 'P', 'Z':
			sp.upper, sp.lower = false, true
		}
	}
	switch c {
	case '%':
		text(w, sp, "%")
	case 'n':
		text(w, sp, "\n")
	case 't':
		text(w, sp, "\t")
	case 'a':
		text(w, sp, weekdayAbbr[t.wday])
	case 'A':
		text(w, sp, weekdayFull[t.wday])
	case 'b', 'h':
		text(w, sp, monthAbbr[t.mon-1])
	case 'B':
		text(w, sp, monthFull[t.mon-1])
	case 'p', 'P':
		if c == 'P' {
			sp.lower = true
		}
		if t.hour < 12 {
			text(w, sp, "AM")
		} else {
			text(w, sp, "PM")
		}
	case 'Z':
		text(w, sp, t.zone)
	case 'c':
		w.sub(sp, "%a %b %e %H:%M:%S %Y", t)
	case 'D', 'x':
		w.sub(sp, "%m/%d/%y", t)
	case 'F':
		w.sub(sp, "%Y-%m-%d", t)
	case 'r':
		w.sub(sp, "%I:%M:%S %p", t)
	case 'R':
		w.sub(sp, "%H:%M", t)
	case 'T', 'X':
		w.sub(sp, "%H:%M:%S", t)
	case 'C':
		// The century rounds down: year -1 is in century -1.
		cent := t.year / 100
		if t.year%100 < 0 {
			cent--
		}
		num(1, cent)
	case 'd':
		num(2, int64(t.mday))
	case 'e':
		spaceNum(2, int64(t.mday))
	case 'g', 'G', 'V':
		year, week := t.isoWeek()
		switch c {
		case 'g':
			num(2, (year%100+100)%100)
		case 'G':
			num(1, year)
		default:
			num(2, int64(week))
		}
	case 'H':
		num(2, int64(t.hour))
	case 'I':
		num(2, int64(t.hour12()))
	case 'j':
		num(3, int64(t.yday+1))
	case 'k':
		spaceNum(2, int64(t.hour))
	case 'l':
		spaceNum(2, int64(t.hour12()))
	case 'm':
		num(2, int64(t.mon))
	case 'M':
		num(2, int64(t.min))
	case 's':
		// glibc pads %s only through the width, with spaces unless 0 is
		// given, and puts zeros before a minus sign.
		w.number(sp, 1, t.unix)
	case 'S':
		num(2, int64(t.sec))
	case 'u':
		num(1, int64((t.wday+6)%7+1))
	case 'U':
		num(2, int64((t.yday-t.wday+7)/7))
	case 'w':
		num(1, int64(t.wday))
	case 'W':
		num(2, int64((t.yday-(t.wday+6)%7+7)/7))
	case 'y':
		num(2, (t.year%100+100)%100)
	case 'Y':
		num(1, t.year)
	case 'z':
		// Seconds of the offset are dropped, as in +0053 for Berlin's
		// local mean time of +00:53:28.
		off := t.gmtoff
		if off < 0 {
			text(w, sp, "-")
			off = -off
		} else {
			text(w, sp, "+")
		}
		off /= 60
		num(4, int64(off/60*100+off%60))
	}
}

// sub formats one of glibc's composite conversions, such as %c, padded
// to the width as a whole and upper-cased by ^, never lower-cased.
func (w *writer) sub(sp *spec, layout string, t *tm) {
	start := len(w.b)
	formatInto(w, layout, t)
	if w.failed {
		return
	}
	w.padFront(start, sp.width, sp.padChar())
	if sp.upper {
		w.upperASCII(start)
	}
}
