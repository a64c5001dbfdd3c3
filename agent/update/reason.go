package update

import "edge-agent/agent/internal/refusal"

// Reason says why a candidate was refused. Its String is the code a reply
// carries, so the codes are part of the protocol: never renamed, only
// added to. The zero value is no reason and is never used in a Refusal.
type Reason uint8

const (
	_ Reason = iota
	// Size: the body is larger or smaller than announced, or the
	// announced size is over the limit.
	Size
	// Checksum: the body's SHA-256 is not the announced one, or the
	// announced one is not 64 hex digits.
	Checksum
	// Signature: the signature is malformed, for another namespace, or
	// does not verify over the body.
	Signature
	// UnknownKey: the signature's key is not in authorized_keys.
	UnknownKey
	// Version: the announced version is not a valid one, or the binary
	// reports another.
	Version
	// Architecture: the candidate is not built for this device's GOOS,
	// GOARCH and GOARM.
	Architecture
	// NotExecutable: the binary is not a Go program, or running it as
	// "version" failed, timed out or printed no version line.
	NotExecutable
	// IO: the slot directory could not be written (disk full, read-only,
	// no layout yet) or the body could not be read.
	IO
	// Busy: a version is on trial: it must commit or roll back before
	// another is installed.
	Busy
	// Malformed: the announcement is not the JSON object ParseCandidate
	// reads.
	Malformed
	// Download: the binary or its signature could not be fetched (the
	// server refused, the connection failed, the download timed out).
	Download

	numReasons
)

var reasonNames = [numReasons]string{
	Size: "size", Checksum: "checksum", Signature: "signature", UnknownKey: "unknown_key",
	Version: "version", Architecture: "architecture", NotExecutable: "not_executable",
	IO: "io", Busy: "busy", Malformed: "malformed", Download: "download",
}

// String returns the reason's code, such as "unknown_key".
func (r Reason) String() string { return refusal.Code(reasonNames[:], r) }

// MarshalText writes the code, so a Reason in a JSON reply reads as one.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Reasons lists every reason, in order.
func Reasons() []Reason { return refusal.All(numReasons) }

// Refusal is a candidate refused with its reason. Message is written for
// a person: it names what was wrong and what to do. Err, when set, is the
// underlying cause. Its Error reads "code: message[: cause]";
// errors.Is(err, &Refusal{Reason: Checksum}) holds for any checksum
// refusal.
type Refusal = refusal.Error[Reason]

func refuse(r Reason, format string, args ...any) *Refusal {
	return refusal.New(r, nil, format, args...)
}

func refuseErr(r Reason, err error, format string, args ...any) *Refusal {
	return refusal.New(r, err, format, args...)
}

// ReasonOf returns the reason of a refusal in err's chain, or 0. A
// refusal of agent/authz is not one: its reasons are another enum.
func ReasonOf(err error) Reason { return refusal.ReasonOf[Reason](err) }
