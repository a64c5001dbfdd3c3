package actions

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"edge-agent/agent/authz"
)

// scriptEnv is the whole environment of a script: nothing of the agent's
// (its variables may hold secrets' paths and settings scripts should not
// depend on).
var scriptEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// drainGrace is how long output is still read once every process of the
// script is gone: only a process that left the script's process group
// (setsid) can hold the pipe longer, and it is not waited for.
const drainGrace = 500 * time.Millisecond

// scriptPath checks that name is a program the operator put in dir: a
// regular file (a symlink is refused, so what runs is decided by whoever
// may write dir, nobody else), executable, owned by root or the agent's
// user and writable by nobody else, in a directory that is owned and
// writable the same way.
func scriptPath(dir, name string) (string, error) {
	if err := ownedAndPrivate(dir, true); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", authz.Refuse(authz.Failed, "no script %s in %s", name, dir)
	case err != nil:
		return "", &authz.Refusal{Reason: authz.Failed, Message: "script " + name, Err: err}
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", authz.Refuse(authz.Failed, "%s is a symlink: copy the program into %s", path, dir)
	case !fi.Mode().IsRegular():
		return "", authz.Refuse(authz.Failed, "%s is not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return "", authz.Refuse(authz.Failed, "%s is not executable: chmod +x it", path)
	}
	if err := ownedAndPrivate(path, false); err != nil {
		return "", err
	}
	return path, nil
}

func ownedAndPrivate(path string, isDir bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return &authz.Refusal{Reason: authz.Failed, Message: "scripts", Err: err}
	}
	if isDir && !fi.IsDir() {
		return authz.Refuse(authz.Failed, "%s is not a directory", path)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return authz.Refuse(authz.Unsupported, "cannot read the owner of %s", path)
	}
	if uid := uint32(os.Geteuid()); st.Uid != 0 && st.Uid != uid {
		return authz.Refuse(authz.Failed, "%s is owned by uid %d, not root or the agent's user (%d)", path, st.Uid, uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return authz.Refuse(authz.Failed, "%s is writable by group or others: chmod go-w it", path)
	}
	return nil
}

// scriptRun is what one run of a script gave.
type scriptRun struct {
	output    []byte
	truncated int64
	exitCode  int
	timedOut  bool
	cancelled bool
}

// runScript runs path with args, no shell, no standard input, the
// minimal environment, in dir, in a process group of its own. Its
// standard output and error share one pipe, of which maxOutput bytes are
// kept and the rest read and counted, so a script that prints without
// end neither blocks nor grows the agent. When the script exits, is past
// timeout, or ctx ends, whatever is left of its process group (children
// it left behind, or all of it) is killed.
func runScript(ctx context.Context, path string, args []string, timeout time.Duration, maxOutput int) (scriptRun, error) {
	var res scriptRun
	r, w, err := os.Pipe()
	if err != nil {
		return res, err
	}
	defer r.Close()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        append([]string{path}, args...),
		Dir:         filepath.Dir(path),
		Env:         scriptEnv,
		Stdout:      w,
		Stderr:      w,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return res, err
	}
	pid := cmd.Process.Pid

	out := capture{max: maxOutput}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		out.readFrom(r)
	}()
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		waitExited(pid)
	}()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-exited:
	case <-timer.C:
		res.timedOut = true
	case <-ctx.Done():
		res.cancelled = true
	}
	// The leader is not reaped yet (waitExited leaves it a zombie), so its
	// process group id cannot have been reused: this kills only what the
	// script started.
	syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
	waitErr := cmd.Wait()
	r.SetReadDeadline(time.Now().Add(drainGrace))
	<-drained

	res.output, res.truncated = out.buf, out.dropped
	res.exitCode = cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return res, waitErr
	}
	return res, nil
}

// waitExited returns once process pid has ended, leaving it to be reaped
// by exec.Cmd.Wait.
func waitExited(pid int) {
	for {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}

// capture keeps the first max bytes read and counts the rest. Its read
// buffer is the only other memory it uses, whatever the volume.
type capture struct {
	max     int
	buf     []byte
	dropped int64
}

func (c *capture) readFrom(r io.Reader) {
	b := make([]byte, 32<<10)
	for {
		n, err := r.Read(b)
		keep := min(n, c.max-len(c.buf))
		c.buf = append(c.buf, b[:keep]...)
		c.dropped += int64(n - keep)
		if err != nil {
			return
		}
	}
}
