package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// nameSlotProcess names a process started from an update slot after the
// command it was started as (edge-agent) instead of after the slot's file
// (a or b): the kernel takes the file's name for the one ps, top, the
// journal's _COMM and systemd's messages show.
func nameSlotProcess(args []string) {
	if os.Getenv(update.SlotEnv) == "" || len(args) == 0 {
		return
	}
	const maxComm = 15 // the kernel's TASK_COMM_LEN less its NUL
	name := filepath.Base(args[0])
	if len(name) > maxComm {
		name = name[:maxComm]
	}
	// Writing our own /proc/<pid>/comm renames the main thread, whose
	// name stands for the process; it cannot fail for lack of rights.
	os.WriteFile("/proc/self/comm", []byte(name), 0)
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
