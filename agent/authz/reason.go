package authz

import "edge-agent/agent/internal/refusal"

// Reason says why a command was refused. Its String is the code a reply
// carries and the refusal counters are keyed by, so the codes are part of
// the wire protocol: never renamed, only added to. The zero value is no
// reason and is never used in a Refusal.
type Reason uint8

const (
	_ Reason = iota
	// Malformed: the payload or the signed text is not what the wire
	// format says (size, JSON shape, armor, field values).
	Malformed
	// UnknownKey: the signature's key is not in authorized_keys.
	UnknownKey
	// BadSignature: the signature does not verify over the command, or
	// was made for another namespace.
	BadSignature
	// Replay: the counter is not above the last one accepted from the key.
	Replay
	// WrongDevice: the command names another device.
	WrongDevice
	// WrongAction: the command names another action than its topic.
	WrongAction
	// NotAllowed: the action is not in the device's allow-list.
	NotAllowed
	// Retained: the message was a retained one, which is state, never a
	// command.
	Retained
	// Busy: the same action is running already.
	Busy
	// Failed: the action was authorised but did not succeed.
	Failed
	// Unsupported: the device cannot do the action at all (no D-Bus, no
	// logind).
	Unsupported

	numReasons
)

var reasonNames = [numReasons]string{
	Malformed: "malformed", UnknownKey: "unknown_key", BadSignature: "bad_signature", Replay: "replay",
	WrongDevice: "wrong_device", WrongAction: "wrong_action", NotAllowed: "not_allowed", Retained: "retained",
	Busy: "busy", Failed: "failed", Unsupported: "unsupported",
}

// String returns the reason's code, such as "bad_signature".
func (r Reason) String() string { return refusal.Code(reasonNames[:], r) }

// MarshalText writes the code, so a Reason in a JSON reply reads as one.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Reasons lists every reason, in order: what refusal counters are made of.
func Reasons() []Reason { return refusal.All(numReasons) }

// Refusal is a command refused with its reason. Message is written for a
// person: it names what was wrong and, where there is one, what to do.
// Err, when set, is the underlying cause (a D-Bus error, an I/O error).
// Its Error reads "code: message[: cause]"; errors.Is(err,
// &Refusal{Reason: Replay}) holds for any replay refusal.
type Refusal = refusal.Error[Reason]

// Refuse returns a *Refusal with a formatted message.
func Refuse(r Reason, format string, args ...any) *Refusal {
	return refusal.New(r, nil, format, args...)
}

// ReasonOf returns the reason of a refusal in err's chain, or 0.
func ReasonOf(err error) Reason { return refusal.ReasonOf[Reason](err) }
