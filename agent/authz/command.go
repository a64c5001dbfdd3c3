package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"edge-agent/agent/internal/strictjson"
)

// Bounds of a signed command.
const (
	MaxArgs    = 16
	MaxArgSize = 1024 // bytes, after JSON unescaping
)

// Command is the signed text: what the signer asked one device to do.
type Command struct {
	Device string   `json:"device"`
	Action string   `json:"action"`
	Args   []string `json:"args,omitempty"`
	// Counter must be higher than any the device accepted from the same
	// key before; the signer's Unix time in nanoseconds by convention,
	// never compared with the device's clock.
	Counter uint64 `json:"counter"`
}

// MaxCounter is the largest counter: it must fit a signed 64-bit integer
// so that every JSON implementation reads it the same.
const MaxCounter = 1<<63 - 1

// Validate checks the bounds of the wire format.
func (c Command) Validate() error {
	switch {
	case c.Device == "":
		return errors.New("no device")
	case c.Action == "":
		return errors.New("no action")
	case c.Counter == 0 || c.Counter > MaxCounter:
		return fmt.Errorf("counter %d is not between 1 and 2^63-1", c.Counter)
	case len(c.Args) > MaxArgs:
		return fmt.Errorf("%d args, over the limit of %d", len(c.Args), MaxArgs)
	}
	for _, f := range []struct{ name, v string }{{"device", c.Device}, {"action", c.Action}} {
		if err := checkText(f.name, f.v, MaxArgSize); err != nil {
			return err
		}
	}
	for i, a := range c.Args {
		if err := checkText("args["+strconv.Itoa(i)+"]", a, MaxArgSize); err != nil {
			return err
		}
	}
	return nil
}

// checkText refuses what could not reach a program's argv intact.
func checkText(name, v string, max int) error {
	switch {
	case len(v) > max:
		return fmt.Errorf("%s is %d bytes, over the limit of %d", name, len(v), max)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not UTF-8", name)
	case strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("%s holds a NUL byte", name)
	}
	return nil
}

// Marshal returns the command as the compact JSON that is signed.
func (c Command) Marshal() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("authz: command: %w", err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, fmt.Errorf("authz: command: %w", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParseCommand reads the signed text. It is strict where JSON decoders
// differ, so that what the device runs is what any reader of the signed
// text would see: exactly one object; keys device, action, counter and
// optionally args, each once and spelled exactly; strings only, UTF-8,
// no NUL; the counter a plain integer from 1 to 2^63-1. Errors are
// *Refusal with reason Malformed.
func ParseCommand(text []byte) (Command, error) {
	var c Command
	if !utf8.Valid(text) {
		return c, Refuse(Malformed, "command is not UTF-8")
	}
	var seenCounter bool
	err := strictjson.Object(text, func(key string, dec *json.Decoder) error {
		var err error
		switch key {
		case "device":
			c.Device, err = readString(dec)
		case "action":
			c.Action, err = readString(dec)
		case "args":
			c.Args, err = readStrings(dec, MaxArgs)
		case "counter":
			c.Counter, err = readCounter(dec)
			seenCounter = true
		default:
			return fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
	if err == nil && !seenCounter {
		err = errors.New("no counter")
	}
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return Command{}, Refuse(Malformed, "command: %v", err)
	}
	return c, nil
}

func readString(dec *json.Decoder) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("not JSON: %v", err)
	}
	s, ok := t.(string)
	if !ok {
		return "", errors.New("not a string")
	}
	return s, nil
}

func readStrings(dec *json.Decoder, max int) ([]string, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if t != json.Delim('[') {
		return nil, errors.New("not an array")
	}
	list := []string{}
	for dec.More() {
		if len(list) == max {
			return nil, fmt.Errorf("more than %d", max)
		}
		s, err := readString(dec)
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	return list, nil
}

func readCounter(dec *json.Decoder) (uint64, error) {
	t, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("not JSON: %v", err)
	}
	n, ok := t.(json.Number)
	if !ok {
		return 0, errors.New("not a number")
	}
	// ParseUint refuses signs, fractions and exponents; 63 bits keeps
	// the counter a positive signed 64-bit integer.
	v, err := strconv.ParseUint(string(n), 10, 63)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%s is not an integer from 1 to 2^63-1", n)
	}
	return v, nil
}
