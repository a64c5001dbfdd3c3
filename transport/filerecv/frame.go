package filerecv

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// MaxHeaderLen is the longest JSON header or reply frame, in bytes. A seed
// header is a file name and a number, well under a kilobyte; the limit
// bounds what a peer can make the receiver buffer before it has said
// anything useful. It stops one byte short of 64 KiB so that no length
// reads as plausible in both byte orders (see HeaderLength).
const MaxHeaderLen = 64<<10 - 1

// HeaderLength reads the 4-byte length that precedes a JSON header. The
// seed client writes it with struct.pack('i'), native order, which is
// little-endian on every machine the agent runs beside; clients written
// with struct.pack('!i') send it big-endian. Whichever reading is a
// plausible length (1 to MaxHeaderLen) is taken, so both work unchanged.
//
// A little-endian reading under 64 KiB needs the last two bytes zero, a
// big-endian one the first two, so at most one reading is ever plausible
// and no sender is misread. When neither is, the error is an *Error with
// CodeBadHeader showing the bytes and both readings.
func HeaderLength(b [4]byte) (n int, bigEndian bool, err error) {
	le := int32(binary.LittleEndian.Uint32(b[:]))
	be := int32(binary.BigEndian.Uint32(b[:]))
	switch {
	case plausibleLen(le):
		return int(le), false, nil
	case plausibleLen(be):
		return int(be), true, nil
	}
	return 0, false, errorf(CodeBadHeader,
		"header length bytes % x read as %d little-endian and %d big-endian; neither is from 1 to %d",
		b[:], le, be, MaxHeaderLen)
}

func plausibleLen(n int32) bool { return n >= 1 && n <= MaxHeaderLen }

// AppendFrame appends a reply frame holding v to dst: a 4-byte
// little-endian length, then json.Marshal(v), which must be a JSON object
// of at most MaxHeaderLen bytes.
func AppendFrame(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return dst, fmt.Errorf("filerecv: encoding a frame: %w", err)
	}
	if err := checkFrameBody(b); err != nil {
		return dst, err
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...), nil
}

// checkFrameBody holds what AppendFrame writes to what ReadFrame accepts.
func checkFrameBody(b []byte) error {
	if len(b) > MaxHeaderLen {
		return errorf(CodeBadHeader, "frame is %d bytes, over the limit of %d", len(b), MaxHeaderLen)
	}
	if first := bytes.TrimLeft(b, jsonSpace); len(first) == 0 || first[0] != '{' {
		return errorf(CodeBadHeader, "a frame holds a JSON object, not %s", describe(first))
	}
	return nil
}

// ReadFrame reads one reply frame, a 4-byte little-endian length and a JSON
// object, and unmarshals the object into v. Replies come only from this
// package's server, so only little-endian is accepted.
//
// A stream that ends before the first byte gives an error wrapping io.EOF,
// one that ends inside the frame io.ErrUnexpectedEOF; read errors are
// wrapped as they are, so a deadline still shows as a net.Error. A length
// outside 1 to MaxHeaderLen, or a body that is not a UTF-8 JSON object or
// does not fit v, gives an *Error with CodeBadHeader.
func ReadFrame(r io.Reader, v any) error {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return fmt.Errorf("filerecv: reading a frame: %w", err)
	}
	n := int32(binary.LittleEndian.Uint32(lb[:]))
	if !plausibleLen(n) {
		return errorf(CodeBadHeader, "frame length bytes % x read as %d; a frame is 1 to %d bytes", lb[:], n, MaxHeaderLen)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("filerecv: reading a %d-byte frame: %w", n, err)
	}
	if !utf8.Valid(b) {
		return errorf(CodeBadHeader, "frame is not valid UTF-8 (at byte %d)", invalidUTF8At(b))
	}
	if err := checkFrameBody(b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		var inv *json.InvalidUnmarshalError
		if errors.As(err, &inv) {
			return fmt.Errorf("filerecv: ReadFrame: %w", err)
		}
		return errorf(CodeBadHeader, "frame: %v", err)
	}
	return nil
}

// wireHeader is Header as it goes on the wire. Field order is key order:
// file_name and file_size first, as the seed writes them, and the
// extensions only when set, so a header without them is the seed's.
type wireHeader struct {
	FileName string `json:"file_name"`
	FileSize int64  `json:"file_size"`
	SHA256   string `json:"sha256,omitempty"`
	Follows  bool   `json:"sha256_follows,omitempty"`
	Ack      bool   `json:"ack,omitempty"`
	Resume   bool   `json:"resume,omitempty"`
	Token    string `json:"token,omitempty"`
}

// WriteHeader writes h with its length prefix in one Write, for clients:
// little-endian as the seed does, or big-endian (see HeaderLength for the
// two lengths that big-endian cannot send as they are). It refuses, with an
// *Error, a header that ParseHeader would refuse or that json would alter
// (a name or token that is not valid UTF-8), so what the receiver reads is
// what the caller passed. It does not apply ValidName: which names are
// stored is the receiver's call, and it answers a bad one.
func WriteHeader(w io.Writer, h Header, bigEndian bool) error {
	switch {
	case !utf8.ValidString(h.FileName):
		return errorf(CodeBadName, "file name %q is not valid UTF-8", h.FileName)
	case !utf8.ValidString(h.Token):
		return errorf(CodeBadHeader, "token is not valid UTF-8")
	case h.FileSize < 0:
		return errorf(CodeBadSize, "file size %d is negative", h.FileSize)
	case len(h.SHA256) != 0 && len(h.SHA256) != 32:
		return errorf(CodeBadChecksum, "SHA256 is %d bytes, not 32", len(h.SHA256))
	case h.Resume && (len(h.SHA256) == 0 || !h.Ack):
		return errorf(CodeBadHeader, "Resume needs SHA256 and Ack")
	case h.SHA256Follows && (len(h.SHA256) != 0 || !h.Ack):
		return errorf(CodeBadHeader, "SHA256Follows needs Ack and no SHA256")
	}
	wh := wireHeader{h.FileName, h.FileSize, hex.EncodeToString(h.SHA256), h.SHA256Follows, h.Ack, h.Resume, h.Token}
	buf := bytes.NewBuffer(make([]byte, 4, 128))
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // <, > and & in a name cost 6 bytes each escaped, and mean nothing here
	if err := enc.Encode(wh); err != nil {
		return fmt.Errorf("filerecv: encoding a header: %w", err)
	}
	b := buf.Bytes()
	b = b[:len(b)-1] // Encode ends with a newline
	n := len(b) - 4
	if n > MaxHeaderLen {
		return errorf(CodeBadHeader, "header is %d bytes, over the limit of %d", n, MaxHeaderLen)
	}
	if bigEndian {
		binary.BigEndian.PutUint32(b, uint32(n))
	} else {
		binary.LittleEndian.PutUint32(b, uint32(n))
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("filerecv: writing a header: %w", err)
	}
	return nil
}
