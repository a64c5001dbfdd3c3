package filerecv

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Header is the JSON header that precedes each file. The seed client sends
// only file_name and file_size; the other keys are opt-in extensions.
type Header struct {
	FileName string // "file_name": as sent; see ValidName
	FileSize int64  // "file_size": bytes of body that follow the header
	SHA256   []byte // "sha256": 32 bytes, or nil when absent; sent as 64 hex digits
	Ack      bool   // "ack": the sender reads reply frames
	Resume   bool   // "resume": continue an interrupted upload; needs SHA256 and Ack
	Token    string // "token": the shared secret, "" when absent
	// SHA256Follows ("sha256_follows") sends the checksum after the body,
	// in a frame {"sha256": "<64 hex digits>"}, so a sender can hash while
	// it sends instead of reading the file twice. Needs Ack; excludes
	// SHA256, and so Resume.
	SHA256Follows bool
}

// String shows h for logs with the token redacted.
func (h Header) String() string {
	tok := ""
	if h.Token != "" {
		tok = " token=[redacted]"
	}
	return fmt.Sprintf("{file_name=%q file_size=%d sha256=%x sha256_follows=%t ack=%t resume=%t%s}",
		h.FileName, h.FileSize, h.SHA256, h.SHA256Follows, h.Ack, h.Resume, tok)
}

// Header keys, as the seed client and json.dumps spell them.
const (
	keyName   = "file_name"
	keySize   = "file_size"
	keySHA256 = "sha256"
	keyAck    = "ack"
	keyResume = "resume"
	keyToken  = "token"
	keyFollow = "sha256_follows"
)

// ParseHeader decodes a JSON header. It is strict about syntax and types
// and nothing else: whether the name may be stored (ValidName) and whether
// the size fits the receiver's limits are for the receiver to judge, and a
// header that parses keeps the framing intact, so such a refusal need not
// end the connection.
//
// The header must be UTF-8 and hold one JSON object and nothing after it
// but white space. file_name (a string) and file_size (an integer literal
// from 0 to 2^63-1: not 1.5, 1e3 or "12") are required; sha256 must be 64
// hex digits in either case, ack and resume booleans, token a string, each
// when present, and null counts as present. resume needs sha256 and ack.
// Keys are matched exactly, as Python does; others are ignored, and a
// known key given twice is refused rather than guessed at.
//
// Errors are *Error: CodeBadSize for file_size, CodeBadChecksum for sha256,
// CodeBadHeader for everything else.
func ParseHeader(b []byte) (Header, error) {
	if !utf8.Valid(b) {
		return Header{}, errorf(CodeBadHeader, "header is not valid UTF-8 (at byte %d)", invalidUTF8At(b))
	}
	fields, err := objectFields(b)
	if err != nil {
		return Header{}, err
	}
	var h Header
	raw, ok := fields[keyName]
	if !ok {
		return Header{}, errorf(CodeBadHeader, "header has no %q key", keyName)
	}
	if err := unmarshalString(keyName, raw, &h.FileName); err != nil {
		return Header{}, err
	}
	raw, ok = fields[keySize]
	if !ok {
		return Header{}, errorf(CodeBadHeader, "header has no %q key", keySize)
	}
	if h.FileSize, err = parseSize(raw); err != nil {
		return Header{}, err
	}
	if raw, ok := fields[keySHA256]; ok {
		if h.SHA256, err = parseSHA256(raw); err != nil {
			return Header{}, err
		}
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{keyAck, &h.Ack}, {keyResume, &h.Resume}, {keyFollow, &h.SHA256Follows}} {
		if raw, ok := fields[f.key]; ok {
			switch string(raw) {
			case "true":
				*f.dst = true
			case "false":
			default:
				return Header{}, errorf(CodeBadHeader, "%s must be true or false, not %s", f.key, describe(raw))
			}
		}
	}
	if raw, ok := fields[keyToken]; ok {
		if err := unmarshalString(keyToken, raw, &h.Token); err != nil {
			return Header{}, err
		}
	}
	if h.Resume && (h.SHA256 == nil || !h.Ack) {
		return Header{}, errorf(CodeBadHeader, "resume needs sha256 (to tell which upload to resume) and \"ack\": true (to hear where to resume from)")
	}
	if h.SHA256Follows && (h.SHA256 != nil || !h.Ack) {
		return Header{}, errorf(CodeBadHeader, "sha256_follows needs \"ack\": true (to hear the verdict) and no sha256 in the header")
	}
	return h, nil
}

// objectFields returns the raw values of the known keys of the JSON object
// in b. It walks the object token by token rather than unmarshalling into
// a struct, which would match keys without regard to case, keep the last
// of two equal keys and accept trailing data in a stream.
func objectFields(b []byte) (map[string]json.RawMessage, error) {
	if first := bytes.TrimLeft(b, jsonSpace); len(first) == 0 || first[0] != '{' {
		return nil, errorf(CodeBadHeader, "header must be a JSON object like {\"file_name\": \"a.txt\", \"file_size\": 5}, not %s", describe(first))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	}
	fields := make(map[string]json.RawMessage, 6)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		key, _ := tok.(string) // a decoder in an object yields keys as strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err)
		}
		switch key {
		case keyName, keySize, keySHA256, keyAck, keyResume, keyToken, keyFollow:
			if _, dup := fields[key]; dup {
				return nil, errorf(CodeBadHeader, "header has the key %q twice", key)
			}
			fields[key] = raw
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, syntaxError(err)
	}
	if rest := bytes.TrimLeft(b[dec.InputOffset():], jsonSpace); len(rest) > 0 {
		return nil, errorf(CodeBadHeader, "header has %d bytes after its JSON object, starting %q", len(rest), rest[:min(len(rest), 16)])
	}
	return fields, nil
}

const jsonSpace = " \t\r\n"

func syntaxError(err error) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(CodeBadHeader, "header JSON ends before its object does")
	}
	return errorf(CodeBadHeader, "header is not valid JSON: %v", err)
}

// describe names the kind of a JSON value for a message, with the value
// itself when it is short.
func describe(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	var kind string
	switch c := raw[0]; {
	case c == '{':
		kind = "an object"
	case c == '[':
		kind = "an array"
	case c == '"':
		kind = "a string"
	case c == 't' || c == 'f':
		kind = "a boolean"
	case c == 'n':
		kind = "null"
	case c == '-' || c >= '0' && c <= '9':
		kind = "a number"
	default:
		return fmt.Sprintf("%q, which is not JSON", raw[:min(len(raw), 16)])
	}
	if len(raw) <= 24 && kind != "null" && printableASCII(raw) {
		return kind + " (" + string(raw) + ")"
	}
	return kind
}

func unmarshalString(key string, raw json.RawMessage, dst *string) error {
	if raw[0] != '"' {
		return errorf(CodeBadHeader, "%s must be a string, not %s", key, describe(raw))
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errorf(CodeBadHeader, "%s: %v", key, err)
	}
	return nil
}

// parseSize reads file_size from its literal: a JSON number may be written
// 1e3 or 1000.0, but a byte count that needs either is a client bug.
func parseSize(raw json.RawMessage) (int64, error) {
	s := string(raw)
	if c := s[0]; c != '-' && (c < '0' || c > '9') {
		return 0, errorf(CodeBadSize, "file_size must be a whole number of bytes, not %s", describe(raw))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '.' || c == 'e' || c == 'E' {
			return 0, errorf(CodeBadSize, "file_size must be written as a whole number, not %.24s", s)
		}
	}
	if s[0] == '-' && s != "-0" {
		return 0, errorf(CodeBadSize, "file_size must not be negative, got %.24s", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errorf(CodeBadSize, "file_size %.24s is over the largest size a 64-bit integer holds", s)
	}
	return n, nil
}

func parseSHA256(raw json.RawMessage) ([]byte, error) {
	if raw[0] != '"' {
		return nil, errorf(CodeBadChecksum, "sha256 must be a string of 64 hex digits, not %s", describe(raw))
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, errorf(CodeBadChecksum, "sha256: %v", err)
	}
	if len(s) != 64 {
		return nil, errorf(CodeBadChecksum, "sha256 must be 64 hex digits, got %d bytes", len(s))
	}
	sum, err := hex.DecodeString(s)
	if err != nil {
		return nil, errorf(CodeBadChecksum, "sha256 must be 64 hex digits: %v", err)
	}
	return sum, nil
}

// printableASCII keeps what a message quotes from a header free of
// terminal escapes and line breaks.
func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
