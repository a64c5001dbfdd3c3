package filerecv

import "fmt"

// Code says why an upload was refused. It is what an acknowledging client
// reads in an error reply and what the rejection counters are keyed by, so
// the values are part of the wire protocol: never renamed, only added to.
type Code string

const (
	// CodeBadHeader: the length prefix is implausible, the header is not a
	// UTF-8 JSON object, a required key is missing, or a key other than
	// file_size and sha256 has the wrong type.
	CodeBadHeader Code = "bad_header"
	// CodeBadName: file_name is not a name the receiver stores (see ValidName).
	CodeBadName Code = "bad_name"
	// CodeBadSize: file_size is not a non-negative integer that fits in 64 bits.
	CodeBadSize Code = "bad_size"
	// CodeTooLarge: file_size is over the receiver's limit.
	CodeTooLarge Code = "too_large"
	// CodeBadChecksum: the sha256 field is malformed (not 64 hex digits).
	CodeBadChecksum Code = "bad_sha256"
	// CodeChecksumMismatch: the body does not hash to the header's sha256.
	CodeChecksumMismatch Code = "checksum_mismatch"
	// CodeNoSpace: the file would eat into the free space the receiver keeps.
	CodeNoSpace Code = "no_space"
	// CodeBadToken: the server requires a token and this one is missing or wrong.
	CodeBadToken Code = "bad_token"
	// CodeBusy: the same name is being uploaded on another connection.
	CodeBusy Code = "busy"
	// CodeIO: reading from the peer or writing to the disk failed.
	CodeIO Code = "io_error"
	// CodeTimeout: the peer stopped sending before a deadline.
	CodeTimeout Code = "timeout"
	// CodeTooManyConns: the receiver is at its connection limit.
	CodeTooManyConns Code = "too_many_connections"
	// CodeTokenLockout: the source sent too many wrong tokens and is
	// refused for a while. Never sent: the connection is closed at once;
	// it keys the counter rejected_bad_token_lockout.
	CodeTokenLockout Code = "bad_token_lockout"
)

// Error is a refusal with its reason. Message is written for a person:
// it names the key or limit at fault and what was expected.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return "filerecv: " + string(e.Code) + ": " + e.Message }

// Is makes an *Error with only a Code usable as a sentinel:
// errors.Is(err, &Error{Code: CodeBusy}) holds for any busy refusal,
// whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
