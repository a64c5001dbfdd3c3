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

// COBSFramer frames binary payloads: COBS(payload, CRC-16 big-endian)
// then 0x00. The zero value is usable.
type COBSFramer struct {
	Max int // largest payload in bytes, CRC excluded; 0 = DefaultMaxFrame

	splitter        // holds the encoded frame so far
	dec      []byte // decoded frame, reused
}

// cobsLimit is the longest encoding of a payload of max bytes and its
// CRC, with one byte to spare; anything longer cannot be a good frame.
func cobsLimit(max int) int {
	n := max + 2
	return n + (n+253)/254 + 1
}

// Feed implements Framer.
func (f *COBSFramer) Feed(p []byte, emit func(msg []byte)) {
	limit := cobsLimit(frameLimit(f.Max))
	for len(p) > 0 {
		i := bytes.IndexByte(p, 0)
		if i < 0 {
			f.take(p, limit)
			return
		}
		f.take(p[:i], limit)
		f.end(emit)
		p = p[i+1:]
	}
}

func (f *COBSFramer) end(emit func([]byte)) {
	enc, ok := f.next()
	if !ok {
		return
	}
	if len(enc) == 0 {
		// Senders put a 0x00 before a frame to resync a receiver that
		// joined mid-frame; it is not an error.
		f.empty.Add(1)
		return
	}
	dec, ok := decodeCOBS(f.dec[:0], enc)
	f.dec = dec
	if !ok || len(dec) < 2 {
		f.garbage.Add(1)
		return
	}
	payload := dec[:len(dec)-2]
	switch {
	case len(payload) > frameLimit(f.Max):
		f.overlongs.Add(1)
	case CRC16(payload) != uint16(dec[len(dec)-2])<<8|uint16(dec[len(dec)-1]):
		f.badCRC.Add(1)
	case len(payload) == 0:
		f.empty.Add(1)
	default:
		f.messages.Add(1)
		emit(payload)
	}
}

// Encode implements Framer.
func (f *COBSFramer) Encode(dst, payload []byte) ([]byte, error) {
	if max := frameLimit(f.Max); len(payload) > max {
		return dst, tooBig(len(payload), max)
	}
	crc := CRC16(payload)
	var e cobsEncoder
	dst = e.write(e.begin(dst), payload)
	dst = e.write(dst, []byte{byte(crc >> 8), byte(crc)})
	return append(e.finish(dst), 0), nil
}

// Reset implements Framer.
func (f *COBSFramer) Reset() { f.next() }

// AppendCOBS appends the COBS encoding of src to dst, without the 0x00
// delimiter.
func AppendCOBS(dst, src []byte) []byte {
	var e cobsEncoder
	return e.finish(e.write(e.begin(dst), src))
}

// cobsEncoder keeps its state between writes so that Encode can add the
// CRC without copying the payload.
type cobsEncoder struct {
	at   int  // index of the open block's code byte, -1 after a full block
	code byte // the open block's code so far
}

func (e *cobsEncoder) begin(dst []byte) []byte {
	e.at, e.code = len(dst), 1
	return append(dst, 0)
}

func (e *cobsEncoder) write(dst, p []byte) []byte {
	for _, c := range p {
		if e.at < 0 {
			// Opened only now: a full block that ends the input takes
			// no further code byte.
			dst = e.begin(dst)
		}
		if c == 0 {
			dst[e.at] = e.code
			dst = e.begin(dst)
			continue
		}
		dst = append(dst, c)
		e.code++
		if e.code == 0xff {
			dst[e.at] = e.code
			e.at = -1
		}
	}
	return dst
}

func (e *cobsEncoder) finish(dst []byte) []byte {
	if e.at >= 0 {
		dst[e.at] = e.code
	}
	return dst
}

// DecodeCOBS appends the decoding of src (without the 0x00 delimiter) to
// dst. On error dst is returned as it came.
func DecodeCOBS(dst, src []byte) ([]byte, error) {
	out, ok := decodeCOBS(dst, src)
	if !ok {
		return dst, ErrBadCOBS
	}
	return out, nil
}

// decodeCOBS reports failure as a bool so that Feed counts garbage
// without building an error.
func decodeCOBS(dst, src []byte) ([]byte, bool) {
	start := len(dst)
	for i := 0; i < len(src); {
		code := int(src[i])
		i++
		if code == 0 || i+code-1 > len(src) {
			return dst[:start], false
		}
		block := src[i : i+code-1]
		if bytes.IndexByte(block, 0) >= 0 {
			return dst[:start], false
		}
		dst = append(dst, block...)
		i += code - 1
		if code != 0xff && i < len(src) {
			dst = append(dst, 0)
		}
	}
	return dst, true
}

// crcTable holds the CRC of each byte value, so that checking a frame
// costs one lookup a byte rather than eight shifts.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		crc := uint16(i) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		t[i] = crc
	}
	return t
}()

// CRC16 is CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, not reflected,
// no final xor.
func CRC16(p []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range p {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^c]
	}
	return crc
}
