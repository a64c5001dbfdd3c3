package refusal

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
)

type color uint8

const (
	_ color = iota
	red
	green
	numColors
)

var colorNames = [numColors]string{red: "red", green: "green"}

func (c color) String() string               { return Code(colorNames[:], c) }
func (c color) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

type shape uint8

func (s shape) String() string { return Code([]string{"", "square"}, s) }

func TestCodes(t *testing.T) {
	if got := All(numColors); !slices.Equal(got, []color{red, green}) {
		t.Errorf("All = %v", got)
	}
	if got := All(color(0)); len(got) != 0 {
		t.Errorf("All(0) = %v", got)
	}
	for c, want := range map[color]string{0: "Reason(0)", red: "red", green: "green", numColors: "Reason(3)", 200: "Reason(200)"} {
		if c.String() != want {
			t.Errorf("color %d reads %q, want %q", uint8(c), c.String(), want)
		}
	}
	b, _ := json.Marshal(map[string]color{"error": green})
	if string(b) != `{"error":"green"}` {
		t.Errorf("JSON %s", b)
	}
}

func TestError(t *testing.T) {
	cause := errors.New("disk on fire")
	err := fmt.Errorf("paint: %w", New(red, cause, "cannot mix %d", 2))
	var ref *Error[color]
	if !errors.As(err, &ref) || ref.Reason != red || ref.Message != "cannot mix 2" {
		t.Fatalf("errors.As: %v", err)
	}
	if s := err.Error(); s != "paint: red: cannot mix 2: disk on fire" {
		t.Errorf("Error() %q", s)
	}
	if !errors.Is(err, cause) || !errors.Is(err, &Error[color]{Reason: red}) || errors.Is(err, &Error[color]{Reason: green}) {
		t.Errorf("errors.Is: %v", err)
	}
	// Only a bare reason is a sentinel.
	if errors.Is(err, &Error[color]{Reason: red, Message: "cannot mix 2"}) {
		t.Error("a refusal with a message matched as a sentinel")
	}
	// Another enum with the same number is another reason.
	if errors.Is(err, &Error[shape]{Reason: 1}) || ReasonOf[shape](err) != 0 {
		t.Error("a refusal matched another reason enum")
	}
	if ReasonOf[color](err) != red || ReasonOf[color](cause) != 0 || ReasonOf[color](nil) != 0 {
		t.Error("ReasonOf")
	}
	if s := New(green, nil, "plain").Error(); s != "green: plain" {
		t.Errorf("without a cause: %q", s)
	}
}
