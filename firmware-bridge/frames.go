package firmwarebridge

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// DefaultMaxFrame is the largest payload of a line or frame when a Framer's Max is 0.
const DefaultMaxFrame = 1024

var (
	// ErrFrameTooBig is returned by Encode for a payload over the framer's Max.
	ErrFrameTooBig = errors.New("firmwarebridge: payload over the maximum frame size")
	// ErrBadCOBS is returned by DecodeCOBS for bytes no COBS encoder produces.
	ErrBadCOBS = errors.New("firmwarebridge: bad COBS encoding")
)

// Framer splits what a microcontroller sends into messages and frames what is sent to it.
type Framer interface {
	// Feed splits p (any chunk of the byte stream, frames may span calls)
	// and calls emit for each good message; the slice passed to emit is
	// valid only during the call.
	Feed(p []byte, emit func(msg []byte))
	// Encode appends the framed payload to dst.
	Encode(dst, payload []byte) ([]byte, error)
	// Stats returns the counts so far; safe to call from any goroutine
	// while Feed runs on another.
	Stats() FrameStats
	// Reset drops a partial line or frame, for a port that was reopened;
	// the counts are kept.
	Reset()
}

// FrameStats counts what Feed saw.
type FrameStats struct {
	Messages uint64 // good lines or frames emitted
	Empty    uint64 // empty lines or empty frames, skipped
	Overlong uint64 // over Max, skipped up to the next delimiter
	Garbage  uint64 // lines: not UTF-8 or holding control bytes other than TAB; COBS: bad encoding or shorter than the CRC
	BadCRC   uint64 // COBS only
}

// splitter is what both framers share: the message so far, kept within
// a bound, and the counts.
type splitter struct {
	buf      []byte
	overlong bool // dropping the rest of a message already counted
	// Atomic so that a status reporter can read them while the reading
	// goroutine feeds.
	messages, empty, overlongs, garbage, badCRC atomic.Uint64
}

// take adds p to the message so far unless that passes limit. Overlong is
// counted now, not at the delimiter, so that a sender that never ends its
// message still shows up in Stats.
func (s *splitter) take(p []byte, limit int) {
	if s.overlong || len(p) == 0 {
		return
	}
	if len(s.buf)+len(p) > limit {
		s.overlong = true
		s.overlongs.Add(1)
		s.buf = s.buf[:0]
		return
	}
	s.buf = append(s.buf, p...)
}

// next returns the message that a delimiter ended, or false for the tail
// of an overlong one, and starts the next.
func (s *splitter) next() ([]byte, bool) {
	msg := s.buf
	s.buf = s.buf[:0]
	if s.overlong {
		s.overlong = false
		return nil, false
	}
	return msg, true
}

// Stats implements Framer.
func (s *splitter) Stats() FrameStats {
	return FrameStats{
		Messages: s.messages.Load(),
		Empty:    s.empty.Load(),
		Overlong: s.overlongs.Load(),
		Garbage:  s.garbage.Load(),
		BadCRC:   s.badCRC.Load(),
	}
}

// Framing selects a Framer.
type Framing uint8

const (
	// FramingLines is text lines ended by CR, LF or CRLF.
	FramingLines Framing = iota
	// FramingCOBS is COBS frames carrying a CRC-16, ended by 0x00.
	FramingCOBS
)

func (f Framing) String() string {
	switch f {
	case FramingLines:
		return "lines"
	case FramingCOBS:
		return "cobs"
	}
	return fmt.Sprintf("Framing(%d)", uint8(f))
}

// MarshalText is the inverse of UnmarshalText.
func (f Framing) MarshalText() ([]byte, error) {
	if f > FramingCOBS {
		return nil, fmt.Errorf("firmwarebridge: framing %d: accepted: lines, cobs", uint8(f))
	}
	return []byte(f.String()), nil
}

// UnmarshalText accepts "lines" or "cobs" in any case.
func (f *Framing) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "lines":
		*f = FramingLines
	case "cobs":
		*f = FramingCOBS
	default:
		return fmt.Errorf("firmwarebridge: framing %q: accepted: lines, cobs", b)
	}
	return nil
}

// NewFramer returns the framer for f with the given max (0 = DefaultMaxFrame).
// An unknown f gives the line framer: a console a person can read beats
// a nil Framer.
func NewFramer(f Framing, max int) Framer {
	if f == FramingCOBS {
		return &COBSFramer{Max: max}
	}
	return &LineFramer{Max: max}
}

func frameLimit(max int) int {
	if max <= 0 {
		return DefaultMaxFrame
	}
	return max
}

func tooBig(n, max int) error { return fmt.Errorf("%w: %d bytes, at most %d", ErrFrameTooBig, n, max) }

// LineFramer frames text lines. The zero value is usable.
type LineFramer struct {
	Max int // longest line in bytes; 0 = DefaultMaxFrame

	splitter
	afterCR bool // an LF next is the second half of a CRLF
}

// Feed implements Framer.
func (f *LineFramer) Feed(p []byte, emit func(msg []byte)) {
	limit := frameLimit(f.Max)
	for len(p) > 0 {
		if f.afterCR {
			f.afterCR = false
			if p[0] == '\n' {
				p = p[1:]
				continue
			}
		}
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			f.take(p, limit)
			return
		}
		f.take(p[:i], limit)
		f.end(emit)
		f.afterCR = p[i] == '\r'
		p = p[i+1:]
	}
}

func (f *LineFramer) end(emit func([]byte)) {
	line, ok := f.next()
	switch {
	case !ok:
	case len(line) == 0:
		f.empty.Add(1)
	case !printableLine(line):
		f.garbage.Add(1)
	default:
		f.messages.Add(1)
		emit(line)
	}
}

// printableLine rejects what a microcontroller prints while its UART
// settles at boot: wrong-baud bytes and stray control codes.
func printableLine(p []byte) bool {
	for _, c := range p {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(p)
}

// Encode implements Framer. One trailing "\n" or "\r\n" is dropped so that
// callers may pass a line with or without its ending.
func (f *LineFramer) Encode(dst, payload []byte) ([]byte, error) {
	if n := len(payload); n > 0 && payload[n-1] == '\n' {
		payload = payload[:n-1]
		if n > 1 && payload[n-2] == '\r' {
			payload = payload[:n-2]
		}
	}
	if max := frameLimit(f.Max); len(payload) > max {
		return dst, tooBig(len(payload), max)
	}
	dst = append(dst, payload...)
	return append(dst, '\n'), nil
}

// Reset implements Framer.
func (f *LineFramer) Reset() {
	f.next()
	f.afterCR = false
}
