package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"edge-agent/agent"
	"edge-agent/agent/update"
)

// launch is the launcher: when this process starts the services and was
// not itself started by the launcher, and the state directory has update
// slots, it runs the slot the update layout chooses in place of this
// process (same PID, for systemd), after deciding whether a version on
// trial gets its start or is rolled back. It returns when there is
// nothing to launch, or when launching failed (then this binary runs the
// services itself, which is what was installed).
func launch(args []string, stderr io.Writer) {
	if os.Getenv(update.SlotEnv) != "" || (len(args) > 1 && args[1] != "run") {
		return
	}
	dir, err := agent.StateDir()
	if err != nil {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent launcher: %v; running this binary\n", err)
		return
	}
	env := append(withoutVar(os.Environ(), agent.LauncherEnv), agent.LauncherEnv+"="+exe)
	err = update.Launch(dir, args, env)
	if errors.Is(err, update.ErrNoSlots) {
		return
	}
	fmt.Fprintf(stderr, "edge-agent launcher: %v; running %s itself\n", err, exe)
}

// withoutVar returns env without name's entries.
func withoutVar(env []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, name+"=") })
}

// failTrial records, for a version on trial, why it cannot run (its
// configuration is refused), so that the next start rolls it back. It
// says whether it did: the caller then exits with a status that systemd
// restarts on.
func failTrial(reason string) bool {
	if os.Getenv(update.SlotEnv) == "" {
		return false
	}
	dir, err := agent.StateDir()
	if err != nil {
		return false
	}
	return update.Open(dir, update.Options{}).Fail(reason) == nil
}
