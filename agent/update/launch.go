package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
)

// SlotEnv is set by the launcher, in the environment of the slot it
// starts, to that slot: a program that finds it set was started by the
// launcher and must not launch again.
const SlotEnv = "EDGE_UPDATE_SLOT"

// Launch is the launcher: it runs the slot Decide chooses, in place of
// the calling process (syscall.Exec with args as the new argv, args[0]
// included, and env with SlotEnv set to the slot), after the new state
// is on disk. It returns only
// when it could not: ErrNoSlots when stateDir has no layout (the caller
// then runs the packaged binary), or the error of the exec.
//
// Only a service start (args is the program alone, or its first argument
// is "run") decides; any other command (version, config, the clients)
// runs the current slot and changes nothing, so that asking a device its
// version does not use up a trial's starts. If the state file cannot be
// read, the current slot runs without trial checks. If the state cannot
// be written, a version on trial is not started (the previous one runs):
// a start that cannot be counted could repeat without end. If the trial
// version cannot be executed, that is recorded as its failure and the
// previous version runs.
func Launch(stateDir string, args, env []string) error {
	return launch(&layout{dir: slotsDir(stateDir)}, args, env, os.Stderr, syscall.Exec)
}

type execFunc func(path string, argv, env []string) error

func launch(l *layout, args, env []string, stderr io.Writer, exec execFunc) error {
	unlock, err := l.lock(context.Background())
	if err != nil {
		return err
	}
	// The lock's descriptor is close-on-exec: the exec releases it.
	defer unlock()
	if len(args) == 0 {
		args = []string{"edge-agent"}
	}
	run := func(slot Slot) error {
		path := l.path(string(slot))
		env := append(slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
			return strings.HasPrefix(kv, SlotEnv+"=")
		}), SlotEnv+"="+string(slot))
		if err := exec(path, args, env); err != nil {
			return fmt.Errorf("update: exec %s: %w", path, err)
		}
		return nil
	}
	st, err := l.load()
	if st.Current == "" {
		return err
	}
	if len(args) > 1 && args[1] != "run" {
		return run(st.Current)
	}
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent launcher: %v; starting slot %s without trial checks\n", err, st.Current)
		return run(st.Current)
	}
	l.cleanup()
	slot, next := Decide(st)
	if err := l.apply(st, next); err != nil {
		if errors.Is(err, errCrash) {
			return err
		}
		if next.Trial != nil && slot == next.Trial.Slot {
			slot = slot.Other()
			fmt.Fprintf(stderr, "edge-agent launcher: %v; starting the previous version in slot %s instead of the one on trial\n", err, slot)
		} else {
			fmt.Fprintf(stderr, "edge-agent launcher: %v\n", err)
		}
		return run(slot)
	}
	if next.Last != nil && next.Trial == nil && st.Trial != nil {
		fmt.Fprintf(stderr, "edge-agent launcher: update %s\n", next.Last)
	}
	if err = run(slot); err == nil || next.Trial == nil || slot != next.Trial.Slot {
		return err
	}
	// The version on trial cannot even start: record why, so that the
	// outcome says so even if the power fails next, and roll back now.
	failed, ferr := fail(next, "cannot start: "+err.Error())
	if ferr == nil {
		ferr = l.apply(next, failed)
	}
	back, rolled := Decide(failed)
	if ferr == nil {
		ferr = l.apply(failed, rolled)
	}
	if errors.Is(ferr, errCrash) {
		return ferr
	} else if ferr != nil {
		fmt.Fprintf(stderr, "edge-agent launcher: %v\n", ferr)
	}
	fmt.Fprintf(stderr, "edge-agent launcher: update %s\n", rolled.Last)
	return run(back)
}
