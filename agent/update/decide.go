package update

import (
	"errors"
	"fmt"
)

// DefaultMaxAttempts is how many starts a new version gets to commit.
const DefaultMaxAttempts = 2

var (
	// ErrNoTrial: Commit or Fail without a version on trial in the
	// current slot. A version that calls Commit at every healthy start
	// may ignore it.
	ErrNoTrial = errors.New("update: no version on trial")
	// ErrNotStarted: Commit or Fail before the launcher started the
	// version on trial: the caller is the version that installed it.
	ErrNotStarted = errors.New("update: the version on trial has not been started yet")
	// ErrFailed: Commit after the version on trial recorded a failure.
	ErrFailed = errors.New("update: the version on trial recorded a failure")
)

// Decide is the launcher's choice at a start: the slot to run and the
// state to record before running it. Without a trial it runs the current
// slot and changes nothing. With one, it counts the start and runs the
// new version while its starts are under MaxAttempts and it recorded no
// failure; otherwise it rolls back: the previous slot becomes current,
// the outcome rolled_back names the failure the version recorded or that
// it did not commit, and the previous slot runs. A trial whose slot is
// not the current one is a switch or a rollback that a crash interrupted;
// it is finished as a rollback. Decide never changes s.
func Decide(s State) (Slot, State) {
	t := s.Trial
	if t == nil {
		return s.Current, s
	}
	if t.Slot != s.Current || t.Failure != "" || t.Attempts >= t.MaxAttempts {
		next := rollBack(s)
		return next.Current, next
	}
	next := s
	nt := *t
	nt.Attempts++
	next.Trial = &nt
	return s.Current, next
}

func rollBack(s State) State {
	t := s.Trial
	reason := t.Failure
	switch {
	case reason != "":
	case t.Slot != s.Current && t.Attempts == 0:
		reason = "the switch was interrupted before the new version started"
	default:
		reason = fmt.Sprintf("did not commit after %d starts", t.Attempts)
	}
	next := s
	next.Trial = nil
	next.Current = t.Slot.Other()
	next.Previous = t.Slot
	next.Last = &Outcome{
		From:   s.Slots.Get(t.Slot.Other()).Version,
		To:     s.Slots.Get(t.Slot).Version,
		Result: RolledBack,
		Reason: cleanReason(reason),
	}
	return next
}

// onTrial returns the trial of the current slot, started at least once.
func onTrial(s State) (*Trial, error) {
	t := s.Trial
	switch {
	case t == nil || t.Slot != s.Current:
		return nil, ErrNoTrial
	case t.Attempts == 0:
		return nil, ErrNotStarted
	}
	return t, nil
}

// commit ends the trial of the current slot as committed.
func commit(s State) (State, error) {
	t, err := onTrial(s)
	if err != nil {
		return s, err
	}
	if t.Failure != "" {
		return s, fmt.Errorf("%w: %s", ErrFailed, t.Failure)
	}
	next := s
	next.Trial = nil
	next.Last = &Outcome{
		From:   s.Slots.Get(t.Slot.Other()).Version,
		To:     s.Slots.Get(t.Slot).Version,
		Result: Committed,
	}
	return next, nil
}

// fail records why the version on trial is not fit, which rolls it back
// at the next start. The first reason recorded is kept: it is the cause,
// later ones tend to be its consequences.
func fail(s State, reason string) (State, error) {
	t, err := onTrial(s)
	if err != nil {
		return s, err
	}
	if t.Failure != "" {
		return s, nil
	}
	reason = cleanReason(reason)
	if reason == "" {
		reason = "failed"
	}
	next := s
	nt := *t
	nt.Failure = reason
	next.Trial = &nt
	return next, nil
}
