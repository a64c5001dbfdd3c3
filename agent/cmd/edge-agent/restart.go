package main

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"edge-agent/agent"
	"edge-agent/agent/update"
)

// restartAgent starts this program again in this process once the
// restart action stopped the agent: same PID (systemd sees no change),
// same arguments and environment; the new program reads its
// configuration and authorized_keys afresh. A binary started by the
// update launcher restarts through it, so that the launcher chooses the
// slot that runs (a new version on trial, or a rollback). It returns only
// on failure.
func restartAgent(stderr io.Writer) int {
	exe, env := os.Getenv(agent.LauncherEnv), withoutVar(os.Environ(), update.SlotEnv)
	var err error
	if exe == "" {
		exe, err = os.Executable()
	}
	if err == nil {
		err = syscall.Exec(exe, os.Args, env)
	}
	fmt.Fprintf(stderr, "edge-agent: restart: %v\n", err)
	return exitFailure
}
