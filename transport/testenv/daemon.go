package testenv

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// StartDaemon starts cmd, its output kept in log, and stops it when the
// test ends: SIGTERM, SIGKILL after 5 s. A failed test logs the output
// under name. exited is closed when the process has ended.
func StartDaemon(t testing.TB, name string, cmd *exec.Cmd) (exited <-chan struct{}, log *LockedBuffer) {
	t.Helper()
	log = new(LockedBuffer)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
	return done, log
}
