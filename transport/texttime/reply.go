package texttime

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"
)

// MaxReply is the longest reply the service sends: what the seed client
// reads with recvfrom(1024). A longer one would reach it cut short.
const MaxReply = 1024

// ReplyLimit is the longest reply to a request of n bytes. Growing with
// the request keeps the service from amplifying a forged datagram into
// much more traffic towards its claimed source.
func ReplyLimit(n int) int {
	if n >= (MaxReply-64)/4 {
		return MaxReply
	}
	return 64 + 4*n
}

// outcome is how a request was answered; each has its counter.
type outcome uint8

const (
	answered outcome = iota
	badUTF8
	hasNUL
	tooLong
)

// Error replies. Each is shorter than the smallest ReplyLimit, so it
// always fits.
const (
	errUTF8    = errorPrefix + "format is not valid UTF-8"
	errNUL     = errorPrefix + "format contains a NUL byte"
	errTooLong = errorPrefix + "reply would be longer than "
)

// appendReply appends the reply to the request req, formatted at t, to
// dst. The checks are the seed server's failures in its order: decoding
// the datagram as UTF-8, then Python refusing a NUL in a format.
func appendReply(dst, req []byte, t time.Time) ([]byte, outcome) {
	if !utf8.Valid(req) {
		return append(dst, errUTF8...), badUTF8
	}
	if bytes.IndexByte(req, 0) >= 0 {
		return append(dst, errNUL...), hasNUL
	}
	limit := ReplyLimit(len(req))
	var out []byte
	var err error
	if len(req) == 0 {
		out, err = appendFormat(dst, DefaultFormat, t, limit)
	} else {
		out, err = appendFormat(dst, req, t, limit)
	}
	if err != nil {
		dst = append(dst, errTooLong...)
		dst = strconv.AppendInt(dst, int64(limit), 10)
		return append(dst, " bytes"...), tooLong
	}
	return out, answered
}
