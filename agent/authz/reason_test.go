package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReasonCodes(t *testing.T) {
	want := "malformed unknown_key bad_signature replay wrong_device wrong_action not_allowed retained busy failed unsupported"
	var got []string
	for _, r := range Reasons() {
		got = append(got, r.String())
	}
	if s := strings.Join(got, " "); s != want {
		t.Fatalf("codes %q, want %q", s, want)
	}
	if s := Reason(0).String(); s != "Reason(0)" {
		t.Errorf("zero reason %q", s)
	}
	if s := Reason(200).String(); s != "Reason(200)" {
		t.Errorf("out of range %q", s)
	}
	b, _ := json.Marshal(map[string]Reason{"error": Replay})
	if string(b) != `{"error":"replay"}` {
		t.Errorf("JSON %s", b)
	}
}

func TestRefusalErrorsAs(t *testing.T) {
	cause := errors.New("disk on fire")
	err := fmt.Errorf("actions: %w", &Refusal{Reason: Failed, Message: "cannot record", Err: cause})
	var ref *Refusal
	if !errors.As(err, &ref) || ref.Reason != Failed {
		t.Fatalf("errors.As: %v", err)
	}
	if !errors.Is(err, cause) || !errors.Is(err, &Refusal{Reason: Failed}) || errors.Is(err, &Refusal{Reason: Busy}) {
		t.Errorf("errors.Is: %v", err)
	}
	if s := err.Error(); s != "actions: failed: cannot record: disk on fire" {
		t.Errorf("Error() %q", s)
	}
	if ReasonOf(cause) != 0 || ReasonOf(Refuse(Busy, "x %d", 1)) != Busy {
		t.Error("ReasonOf")
	}
}
