package update

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of the files in the slot directory: they are read whole by the
// launcher at every start.
const (
	MaxStateSize   = 4 << 10
	MaxPointerSize = 16
	// MaxReasonSize bounds a failure reason a version records.
	MaxReasonSize = 256
	// MaxMaxAttempts bounds how many starts a trial may be given.
	MaxMaxAttempts = 100
)

// stateFormat is the state file's "format": a launcher refuses a state
// of another format rather than misread it, and keys it does not know
// are ignored, so a newer version may add some.
const stateFormat = 1

// Slot names one of the two places a binary lives.
type Slot string

const (
	SlotA Slot = "a"
	SlotB Slot = "b"
)

// Valid reports whether s is a or b.
func (s Slot) Valid() bool { return s == SlotA || s == SlotB }

// Other returns the other slot.
func (s Slot) Other() Slot {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

// SlotInfo is what was installed in a slot; zero when nothing known.
type SlotInfo struct {
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
}

// Slots records each slot's binary.
type Slots struct {
	A SlotInfo `json:"a"`
	B SlotInfo `json:"b"`
}

// Get returns slot s's info.
func (ss Slots) Get(s Slot) SlotInfo {
	if s == SlotB {
		return ss.B
	}
	return ss.A
}

func (ss *Slots) set(s Slot, i SlotInfo) {
	if s == SlotB {
		ss.B = i
	} else {
		ss.A = i
	}
}

// Trial is a version not yet committed.
type Trial struct {
	Slot Slot `json:"slot"`
	// Attempts counts the starts of the slot so far; at MaxAttempts
	// without a commit the next start rolls back. Starts, not time: the
	// clock may jump.
	Attempts    int `json:"attempts"`
	MaxAttempts int `json:"max_attempts"`
	// Failure is what the version recorded with Fail; it rolls back at
	// the next start.
	Failure string `json:"failure,omitempty"`
}

// Result is how an update ended.
type Result string

const (
	Committed  Result = "committed"
	RolledBack Result = "rolled_back"
)

// Outcome is the last update's end.
type Outcome struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Result Result `json:"result"`
	Reason string `json:"reason,omitempty"`
	// Reported is set once the running version told the world (an
	// event), so that it tells once however often it starts.
	Reported bool `json:"reported,omitempty"`
}

func (o Outcome) String() string {
	s := o.From + " -> " + o.To + ": " + string(o.Result)
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	return s
}

// State is the slot layout: the pointer file's slot and the state file.
type State struct {
	// Current is the slot the pointer file names; not in the state file.
	Current Slot `json:"-"`
	// Previous is the slot that was current before the last switch.
	Previous Slot     `json:"previous,omitempty"`
	Slots    Slots    `json:"slots"`
	Trial    *Trial   `json:"trial,omitempty"`
	Last     *Outcome `json:"last,omitempty"`
}

type stateFile struct {
	Format int `json:"format"`
	State
}

// ParsePointer reads the pointer file: "a" or "b", with or without one
// newline.
func ParsePointer(data []byte) (Slot, error) {
	s := Slot(strings.TrimSuffix(string(data), "\n"))
	if len(data) > MaxPointerSize || !s.Valid() {
		return "", fmt.Errorf("%w: pointer %q is not a or b", ErrLayout, truncate(string(data), MaxPointerSize))
	}
	return s, nil
}

// ParseState reads the state file (its Current stays empty): at most
// MaxStateSize bytes of JSON of format 1, whose values Validate accepts.
// Unknown keys are ignored.
func ParseState(data []byte) (State, error) {
	if len(data) > MaxStateSize {
		return State{}, fmt.Errorf("%w: state is %d bytes, over %d", ErrLayout, len(data), MaxStateSize)
	}
	if !utf8.Valid(data) {
		return State{}, fmt.Errorf("%w: state is not UTF-8", ErrLayout)
	}
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return State{}, fmt.Errorf("%w: state: %v", ErrLayout, err)
	}
	if f.Format != stateFormat {
		return State{}, fmt.Errorf("%w: state format %d, this version reads %d", ErrLayout, f.Format, stateFormat)
	}
	if err := f.State.validate(); err != nil {
		return State{}, fmt.Errorf("%w: state: %v", ErrLayout, err)
	}
	return f.State, nil
}

// marshal returns the state file's content.
func (s State) marshal() ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("%w: state: %v", ErrLayout, err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(stateFile{Format: stateFormat, State: s}); err != nil {
		return nil, fmt.Errorf("update: state: %w", err)
	}
	if b.Len() > MaxStateSize {
		return nil, fmt.Errorf("%w: state would be %d bytes, over %d", ErrLayout, b.Len(), MaxStateSize)
	}
	return b.Bytes(), nil
}

// validate checks the state file's values, not Current.
func (s State) validate() error {
	if s.Previous != "" && !s.Previous.Valid() {
		return fmt.Errorf("previous %q is not a or b", s.Previous)
	}
	for _, sl := range []Slot{SlotA, SlotB} {
		i := s.Slots.Get(sl)
		if i == (SlotInfo{}) {
			continue
		}
		if err := checkVersion(i.Version); err != nil {
			return fmt.Errorf("slot %s: version: %v", sl, err)
		}
		if _, err := decodeSHA256(i.SHA256); err != nil {
			return fmt.Errorf("slot %s: sha256: %v", sl, err)
		}
	}
	if t := s.Trial; t != nil {
		switch {
		case !t.Slot.Valid():
			return fmt.Errorf("trial slot %q is not a or b", t.Slot)
		case s.Previous != t.Slot.Other():
			return fmt.Errorf("trial of slot %s without the other slot as previous", t.Slot)
		case t.Attempts < 0 || t.Attempts > MaxMaxAttempts:
			return fmt.Errorf("trial attempts %d are not between 0 and %d", t.Attempts, MaxMaxAttempts)
		case t.MaxAttempts < 1 || t.MaxAttempts > MaxMaxAttempts:
			return fmt.Errorf("trial max_attempts %d is not between 1 and %d", t.MaxAttempts, MaxMaxAttempts)
		}
		if err := checkReason(t.Failure); err != nil {
			return fmt.Errorf("trial failure: %v", err)
		}
	}
	if o := s.Last; o != nil {
		if o.Result != Committed && o.Result != RolledBack {
			return fmt.Errorf("last result %q is not committed or rolled_back", o.Result)
		}
		for _, v := range []string{o.From, o.To} {
			if v != "" {
				if err := checkVersion(v); err != nil {
					return fmt.Errorf("last: %v", err)
				}
			}
		}
		if err := checkReason(o.Reason); err != nil {
			return fmt.Errorf("last reason: %v", err)
		}
	}
	return nil
}

// checkReason accepts printable UTF-8 of at most MaxReasonSize bytes.
func checkReason(r string) error {
	if len(r) > MaxReasonSize {
		return fmt.Errorf("over %d bytes", MaxReasonSize)
	}
	if !utf8.ValidString(r) {
		return errors.New("not UTF-8")
	}
	if strings.IndexFunc(r, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0 {
		return errors.New("holds a control character")
	}
	return nil
}

// cleanReason makes any text a valid reason: control characters become
// spaces, invalid UTF-8 is replaced, and it is cut to MaxReasonSize.
func cleanReason(r string) string {
	r = strings.ToValidUTF8(r, "?")
	r = strings.Map(func(c rune) rune {
		if !unicode.IsPrint(c) {
			return ' '
		}
		return c
	}, r)
	return truncate(r, MaxReasonSize)
}

// truncate cuts s to at most n bytes without splitting a rune.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
