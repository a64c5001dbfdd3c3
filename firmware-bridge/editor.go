package firmwarebridge

import (
	"fmt"
	"unicode/utf8"
)

// DefaultMaxLine is the longest console line in bytes when Editor.Max is 0.
const DefaultMaxLine = 256

// maxCSI bounds an escape sequence so that a stray ESC, or line noise
// after one, cannot swallow what is typed next.
const maxCSI = 16

// EditResult says what a byte did.
type EditResult uint8

const (
	// EditNone means the line goes on.
	EditNone EditResult = iota
	// EditLine means a line ended; Line has it.
	EditLine
	// EditTooLong means a line ended that was longer than Max: it is
	// rejected, there is nothing to run.
	EditTooLong
	// EditCancel means Ctrl-C dropped the line.
	EditCancel
)

func (r EditResult) String() string {
	switch r {
	case EditNone:
		return "none"
	case EditLine:
		return "line"
	case EditTooLong:
		return "too long"
	case EditCancel:
		return "cancel"
	}
	return fmt.Sprintf("EditResult(%d)", uint8(r))
}

type escState uint8

const (
	escNone  escState = iota
	escStart          // after ESC
	escCSI            // after ESC [
	escSS3            // after ESC O
)

// Editor turns bytes typed on a terminal into lines, and says what to
// display. The zero value is usable (no echo).
type Editor struct {
	Max  int  // longest line in bytes; 0 = DefaultMaxLine
	Echo bool // display typed characters (off for a password, or a terminal with local echo)

	buf      []byte
	line     string
	overflow bool // a byte was refused: the line must not run
	stray    bool // a control byte no key sends was dropped from the line
	strayEnd bool // stray, for the line ended last
	afterCR  bool // an LF next is the second half of a CRLF
	esc      escState
	escLen   int
}

// Feed processes one typed byte, appends to out what the terminal should
// show, and returns out and the result.
func (e *Editor) Feed(c byte, out []byte) ([]byte, EditResult) {
	if e.afterCR {
		e.afterCR = false
		if c == '\n' {
			return out, EditNone
		}
	}
	// CR, LF and Ctrl-C act even inside an escape sequence: a user who
	// hits ESC by mistake must still be able to end or drop the line.
	switch c {
	case '\r', '\n':
		e.esc = escNone
		return e.end(c, out)
	case 0x03:
		e.esc = escNone
		e.buf = e.buf[:0]
		e.overflow = false
		e.stray = false
		return append(out, "^C\r\n"...), EditCancel
	}
	if e.esc != escNone {
		e.swallow(c)
		return out, EditNone
	}
	switch {
	case c == 0x1b:
		e.esc = escStart
	case c == 0x08 || c == 0x7f:
		if len(e.buf) > 0 {
			e.dropRune()
			if e.Echo {
				out = append(out, "\b \b"...)
			}
		}
	case c == 0x15:
		for len(e.buf) > 0 {
			e.dropRune()
			if e.Echo {
				out = append(out, "\b \b"...)
			}
		}
	case c == '\t':
		// No completion to drive.
	case c < 0x20:
		// Ctrl-letters a habit may type, and NUL and the like from a
		// floating RX pin or a wrong speed: no use here, and a line
		// that held one is likelier noise than typing (Stray).
		e.stray = true
	case len(e.buf) >= e.max():
		e.overflow = true
		if e.Echo {
			out = append(out, 0x07)
		}
	default:
		e.buf = append(e.buf, c)
		if e.Echo {
			out = append(out, c)
		}
	}
	return out, EditNone
}

func (e *Editor) max() int {
	if e.Max <= 0 {
		return DefaultMaxLine
	}
	return e.Max
}

// swallow eats one byte of an escape sequence: arrow and function keys
// send them, and the console has no cursor movement to give them.
func (e *Editor) swallow(c byte) {
	switch e.esc {
	case escStart:
		switch c {
		case '[':
			e.esc, e.escLen = escCSI, 0
		case 'O':
			e.esc = escSS3
		default:
			e.esc = escNone
		}
	case escSS3:
		e.esc = escNone
	case escCSI:
		e.escLen++
		if (c >= 0x40 && c <= 0x7e) || e.escLen >= maxCSI {
			e.esc = escNone
		}
	}
}

// dropRune removes the last UTF-8 character, or one byte of a broken one.
func (e *Editor) dropRune() {
	_, n := utf8.DecodeLastRune(e.buf)
	e.buf = e.buf[:len(e.buf)-n]
}

func (e *Editor) end(c byte, out []byte) ([]byte, EditResult) {
	e.afterCR = c == '\r'
	// Always, even without echo, so that the next prompt starts on a new
	// line after a password.
	out = append(out, "\r\n"...)
	// The stored part can be longer than Max if Max was lowered mid-line;
	// it is refused like any overlong line.
	tooLong := e.overflow || len(e.buf) > e.max()
	e.overflow = false
	stray := e.stray
	e.stray = false
	line := e.buf
	e.buf = e.buf[:0]
	if tooLong {
		return out, EditTooLong
	}
	e.line, e.strayEnd = string(line), stray
	return out, EditLine
}

// Line returns the line ended by the last EditLine result, without its
// line end.
func (e *Editor) Line() string { return e.line }

// Stray reports whether control bytes that no editing key sends (NUL,
// Ctrl-A, ...) were dropped from the line Line returns: on a serial port
// such a line is most likely line noise rather than something typed.
func (e *Editor) Stray() bool { return e.strayEnd }

// Reset drops any partial line and escape state.
func (e *Editor) Reset() {
	e.buf = e.buf[:0]
	e.overflow = false
	e.stray = false
	e.afterCR = false
	e.esc = escNone
	e.escLen = 0
}
