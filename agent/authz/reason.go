package authz

import (
	"errors"
	"fmt"
	"strconv"
)

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

const reasonNames = "malformedunknown_keybad_signaturereplaywrong_devicewrong_actionnot_allowedretainedbusyfailedunsupported"

var reasonIndex = [...]uint8{0, 0, 9, 20, 33, 39, 51, 63, 74, 82, 86, 92, 103}

// String returns the reason's code, such as "bad_signature".
func (r Reason) String() string {
	if r == 0 || r >= numReasons {
		return "Reason(" + strconv.Itoa(int(r)) + ")"
	}
	return reasonNames[reasonIndex[r]:reasonIndex[r+1]]
}

// MarshalText writes the code, so a Reason in a JSON reply reads as one.
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// Reasons lists every reason, in order: what refusal counters are made of.
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := Malformed; r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// Refusal is a command refused with its reason. Message is written for a
// person: it names what was wrong and, where there is one, what to do.
// Err, when set, is the underlying cause (a D-Bus error, an I/O error).
type Refusal struct {
	Reason  Reason
	Message string
	Err     error
}

func (e *Refusal) Error() string {
	s := e.Reason.String() + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Refusal) Unwrap() error { return e.Err }

// Is makes a *Refusal with only a Reason usable as a sentinel:
// errors.Is(err, &Refusal{Reason: Replay}) holds for any replay refusal.
func (e *Refusal) Is(target error) bool {
	t, ok := target.(*Refusal)
	return ok && t.Message == "" && t.Err == nil && t.Reason == e.Reason
}

// Refuse returns a *Refusal with a formatted message.
func Refuse(r Reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the reason of a refusal in err's chain, or 0.
func ReasonOf(err error) Reason {
	var ref *Refusal
	if errors.As(err, &ref) {
		return ref.Reason
	}
	return 0
}
