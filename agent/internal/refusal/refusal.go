// Package refusal is the error of a request refused with a reason code.
// Each package that refuses requests has its own Reason enum, whose codes
// are part of its protocol (agent/authz for signed commands, agent/update
// for update candidates), and names its Refusal as an Error of that enum:
// callers use errors.As, errors.Is and the package's ReasonOf as with any
// error type.
package refusal

import (
	"errors"
	"fmt"
	"strconv"
)

// Reason is what a reason enum is: a small integer whose String is the
// code a reply carries. The zero value is no reason and is never used in
// an Error.
type Reason interface {
	~uint8
	String() string
}

// Error is a request refused with its reason. Message is written for a
// person: it names what was wrong and, where there is one, what to do.
// Err, when set, is the underlying cause (an I/O error, a D-Bus error).
type Error[R Reason] struct {
	Reason  R
	Message string
	Err     error
}

// Error reads "code: message", then ": cause" when there is one: a reply
// can strip the code it carries apart.
func (e *Error[R]) Error() string {
	s := e.Reason.String() + ": " + e.Message
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error[R]) Unwrap() error { return e.Err }

// Is makes an *Error with only a Reason usable as a sentinel:
// errors.Is(err, &Error[R]{Reason: r}) holds for any refusal with reason
// r. Errors of two reason enums never match.
func (e *Error[R]) Is(target error) bool {
	t, ok := target.(*Error[R])
	return ok && t.Message == "" && t.Err == nil && t.Reason == e.Reason
}

// New returns an *Error with a formatted message and cause err (nil for
// none).
func New[R Reason](r R, err error, format string, args ...any) *Error[R] {
	return &Error[R]{Reason: r, Message: fmt.Sprintf(format, args...), Err: err}
}

// ReasonOf returns the reason of the first *Error[R] in err's chain, or 0.
func ReasonOf[R Reason](err error) R {
	var ref *Error[R]
	if errors.As(err, &ref) {
		return ref.Reason
	}
	return 0
}

// Code returns names[r], the code of reason r, or "Reason(r)" for 0 and
// values past the end of names: what a reason enum's String returns.
func Code[R ~uint8](names []string, r R) string {
	if r == 0 || int(r) >= len(names) {
		return "Reason(" + strconv.Itoa(int(r)) + ")"
	}
	return names[r]
}

// All returns every reason below end, from 1, in order: what a reason
// enum's refusal counters are made of.
func All[R ~uint8](end R) []R {
	rs := make([]R, 0, max(int(end)-1, 0))
	for r := R(1); r < end; r++ {
		rs = append(rs, r)
	}
	return rs
}
