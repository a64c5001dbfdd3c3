package update

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var (
	infoA = SlotInfo{Version: "1.0.0", SHA256: strings.Repeat("a", 64)}
	infoB = SlotInfo{Version: "2.0.0", SHA256: strings.Repeat("b", 64)}
)

// onTrialState is slot b on trial over a.
func onTrialState(attempts int, failure string) State {
	return State{
		Current: SlotB, Previous: SlotA, Slots: Slots{A: infoA, B: infoB},
		Trial: &Trial{Slot: SlotB, Attempts: attempts, MaxAttempts: 2, Failure: failure},
	}
}

func TestDecide(t *testing.T) {
	committed := &Outcome{From: "0.9.0", To: "1.0.0", Result: Committed}
	plain := State{Current: SlotA, Previous: SlotB, Slots: Slots{A: infoA, B: infoB}, Last: committed}
	rolled := func(reason string) State {
		return State{Current: SlotA, Previous: SlotB, Slots: Slots{A: infoA, B: infoB},
			Last: &Outcome{From: "1.0.0", To: "2.0.0", Result: RolledBack, Reason: reason}}
	}
	interrupted := onTrialState(0, "")
	interrupted.Current = SlotA
	interruptedLate := onTrialState(2, "")
	interruptedLate.Current = SlotA
	interruptedFailed := onTrialState(1, "broker not reached")
	interruptedFailed.Current = SlotA
	more := onTrialState(4, "")
	more.Trial.MaxAttempts = 5

	tests := []struct {
		name string
		in   State
		run  Slot
		next State
	}{
		{"no trial: run current, change nothing", plain, SlotA, plain},
		{"fresh layout", State{Current: SlotA, Slots: Slots{A: infoA}}, SlotA, State{Current: SlotA, Slots: Slots{A: infoA}}},
		{"first start of a trial", onTrialState(0, ""), SlotB, onTrialState(1, "")},
		{"second start of a trial", onTrialState(1, ""), SlotB, onTrialState(2, "")},
		{"starts used up", onTrialState(2, ""), SlotA, rolled("did not commit after 2 starts")},
		{"over the limit (edited by hand)", onTrialState(7, ""), SlotA, rolled("did not commit after 7 starts")},
		{"failure recorded", onTrialState(1, "missed health window"), SlotA, rolled("missed health window")},
		{"failure recorded before the first start", onTrialState(0, "x"), SlotA, rolled("x")},
		{"switch interrupted", interrupted, SlotA, rolled("the switch was interrupted before the new version started")},
		{"rollback interrupted", interruptedLate, SlotA, rolled("did not commit after 2 starts")},
		{"rollback after a failure interrupted", interruptedFailed, SlotA, rolled("broker not reached")},
		{"five starts allowed", more, SlotB, func() State { s := onTrialState(5, ""); s.Trial.MaxAttempts = 5; return s }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := cloneState(tc.in)
			run, next := Decide(tc.in)
			if run != tc.run || !reflect.DeepEqual(next, tc.next) {
				t.Errorf("Decide = %s, %+v (trial %+v, last %+v)\nwant %s, %+v (trial %+v, last %+v)",
					run, next, next.Trial, next.Last, tc.run, tc.next, tc.next.Trial, tc.next.Last)
			}
			if !reflect.DeepEqual(tc.in, before) {
				t.Errorf("Decide changed its argument")
			}
			if err := next.validate(); err != nil {
				t.Errorf("next state does not validate: %v", err)
			}
		})
	}
}

func cloneState(s State) State {
	if s.Trial != nil {
		t := *s.Trial
		s.Trial = &t
	}
	if s.Last != nil {
		o := *s.Last
		s.Last = &o
	}
	return s
}

// A trial runs exactly MaxAttempts times and then rolls back, for any
// MaxAttempts.
func TestDecideSequence(t *testing.T) {
	for max := 1; max <= 4; max++ {
		s := onTrialState(0, "")
		s.Trial.MaxAttempts = max
		var runs []Slot
		for range max + 2 {
			var slot Slot
			slot, s = Decide(s)
			runs = append(runs, slot)
		}
		want := strings.Repeat("b", max) + "aa"
		got := ""
		for _, r := range runs {
			got += string(r)
		}
		if got != want || s.Trial != nil || s.Last.Result != RolledBack {
			t.Errorf("max %d: runs %s, want %s; state %+v", max, got, want, s)
		}
	}
}

func TestCommitAndFail(t *testing.T) {
	plain := State{Current: SlotA, Slots: Slots{A: infoA}}
	interrupted := onTrialState(1, "")
	interrupted.Current = SlotA

	for _, tc := range []struct {
		name string
		in   State
		err  error
	}{
		{"no trial", plain, ErrNoTrial},
		{"trial of the other slot", interrupted, ErrNoTrial},
		{"not started", onTrialState(0, ""), ErrNotStarted},
	} {
		if _, err := commit(tc.in); !errors.Is(err, tc.err) {
			t.Errorf("commit, %s: %v, want %v", tc.name, err, tc.err)
		}
		if _, err := fail(tc.in, "x"); !errors.Is(err, tc.err) {
			t.Errorf("fail, %s: %v, want %v", tc.name, err, tc.err)
		}
	}
	if _, err := commit(onTrialState(1, "health")); !errors.Is(err, ErrFailed) {
		t.Errorf("commit after a failure: %v", err)
	}

	next, err := commit(onTrialState(2, ""))
	want := State{Current: SlotB, Previous: SlotA, Slots: Slots{A: infoA, B: infoB},
		Last: &Outcome{From: "1.0.0", To: "2.0.0", Result: Committed}}
	if err != nil || !reflect.DeepEqual(next, want) {
		t.Errorf("commit = %+v, %v", next, err)
	}
	if slot, again := Decide(next); slot != SlotB || !reflect.DeepEqual(again, next) {
		t.Errorf("Decide after commit = %s, %+v", slot, again)
	}

	next, err = fail(onTrialState(1, ""), "services not bound:\n:123 in use\x00")
	if err != nil || next.Trial.Failure != "services not bound: :123 in use " {
		t.Fatalf("fail = %+v, %v", next.Trial, err)
	}
	again, err := fail(next, "second reason")
	if err != nil || again.Trial.Failure != next.Trial.Failure {
		t.Errorf("a second fail replaced the first reason: %+v, %v", again.Trial, err)
	}
	long, _ := fail(onTrialState(1, ""), strings.Repeat("é", MaxReasonSize))
	if len(long.Trial.Failure) > MaxReasonSize || long.validate() != nil {
		t.Errorf("a long reason is %d bytes", len(long.Trial.Failure))
	}
	empty, _ := fail(onTrialState(1, ""), "")
	if empty.Trial.Failure != "failed" {
		t.Errorf("empty reason recorded as %q", empty.Trial.Failure)
	}
}
