package main

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// restartAgent starts this program again in this process once the
// restart action stopped the agent: same PID (systemd sees no change),
// same arguments and environment; the new program reads its
// configuration and authorized_keys afresh. After an update replaced the
// binary, os.Executable names the new file. It returns only on failure.
func restartAgent(stderr io.Writer) int {
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, os.Environ())
	}
	fmt.Fprintf(stderr, "edge-agent: restart: %v\n", err)
	return exitFailure
}
