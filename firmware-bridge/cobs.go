package firmwarebridge

import "bytes"

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
