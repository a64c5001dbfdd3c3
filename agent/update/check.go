package update

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"edge-agent/agent/authz"
)

// Namespace is the SSHSIG namespace of update binaries: ssh-keygen -Y
// sign -n edge-agent-update. A command signature (namespace edge-agent)
// or any other never verifies as one.
const Namespace = "edge-agent-update"

// VersionTimeout bounds a candidate's "version" run.
const VersionTimeout = 5 * time.Second

// checkSignature checks, before the body is read, that the armored
// signature is by a key in keys and for Namespace: a body by anyone else
// is refused unread.
func checkSignature(keys *authz.Keys, armored string) (authz.Signed, error) {
	signed, err := authz.CheckSignature(keys, armored, Namespace)
	if authz.ReasonOf(err) == authz.Malformed {
		return signed, refuseErr(Signature, err, "the signature is not an armored SSH signature: send the .sig file ssh-keygen -Y sign -n %s wrote", Namespace)
	}
	return signed, fromAuthz(err)
}

// verifySignature checks the signature over the whole of f.
func verifySignature(f *os.File, signed authz.Signed) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return refuseErr(IO, err, "rereading the candidate")
	}
	return fromAuthz(signed.Verify(bufio.NewReaderSize(f, 64<<10)))
}

// fromAuthz gives a signature refusal of authz this package's reason
// (unknown_key, or signature for every other), keeping its message and
// cause.
func fromAuthz(err error) error {
	var ref *authz.Refusal
	if !errors.As(err, &ref) {
		return err
	}
	r := Signature
	if ref.Reason == authz.UnknownKey {
		r = UnknownKey
	}
	return &Refusal{Reason: r, Message: ref.Message, Err: ref.Err}
}

// checkBuild reads the Go build information in the file, without running
// it: a binary for another architecture is refused before it could run.
func checkBuild(f *os.File, want Target) error {
	info, err := buildinfo.Read(f)
	if err != nil {
		return refuseErr(NotExecutable, err, "not a Go program with build information: send the edge-agent binary itself")
	}
	if got := BuildTarget(info); got != want {
		return refuse(Architecture, "the binary is built for %s, this device needs %s: send the %s build", got, want, want)
	}
	return nil
}

// BuildTarget is the target Go's build information records: GOOS,
// GOARCH and GOARM as the build settings say.
func BuildTarget(info *debug.BuildInfo) Target {
	var t Target
	for _, s := range info.Settings {
		switch s.Key {
		case "GOOS":
			t.GOOS = s.Value
		case "GOARCH":
			t.GOARCH = s.Value
		case "GOARM":
			t.GOARM = s.Value
		}
	}
	return t
}

// runVersion runs path as "path version" with an empty environment, no
// standard input, in its own process group that is killed when it
// returns, at most timeout long, and parses what it printed.
func runVersion(ctx context.Context, path string, timeout time.Duration) (VersionInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		var out, errOut boundedBuffer
		cmd := exec.CommandContext(ctx, path, "version")
		cmd.Env = []string{}
		cmd.Dir = "/"
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = time.Second
		err := cmd.Run()
		if cmd.Process != nil {
			// Whatever it started in the background goes with it.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		// A fork elsewhere in the process may still hold the just-closed
		// file open for writing for an instant (ETXTBSY): try again.
		if errors.Is(err, syscall.ETXTBSY) && attempt < 50 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		return versionResult(ctx, timeout, err, &out, &errOut)
	}
}

func versionResult(ctx context.Context, timeout time.Duration, err error, out, errOut *boundedBuffer) (VersionInfo, error) {
	var exit *exec.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return VersionInfo{}, refuse(NotExecutable, "\"version\" did not finish within %v", timeout)
	case ctx.Err() != nil:
		return VersionInfo{}, fmt.Errorf("update: %w", ctx.Err())
	case errors.As(err, &exit):
		return VersionInfo{}, refuse(NotExecutable, "\"version\" exited with %v: %q", exit.ProcessState, strings.TrimSpace(errOut.String()))
	case err != nil:
		return VersionInfo{}, refuseErr(NotExecutable, err, "cannot run the binary (is the state directory mounted noexec?)")
	case out.overflow:
		return VersionInfo{}, refuse(Version, "\"version\" printed over %d bytes", MaxVersionOutput)
	}
	v, perr := ParseVersionLine(out.String())
	if perr != nil {
		return VersionInfo{}, refuse(Version, "\"version\" printed %q: %v", truncate(out.String(), 200), perr)
	}
	return v, nil
}

// boundedBuffer keeps the first MaxVersionOutput bytes written to it and
// reads and drops the rest, so a program that prints without end
// neither blocks nor grows the agent.
type boundedBuffer struct {
	mu       sync.Mutex
	b        strings.Builder
	overflow bool
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := MaxVersionOutput - w.b.Len()
	if len(p) > room {
		w.overflow = true
		w.b.Write(p[:max(room, 0)])
	} else {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *boundedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// checkReported compares what the binary says it is with what it must be.
func checkReported(v VersionInfo, version string, target Target) error {
	if v.Version != version {
		return refuse(Version, "the binary reports version %q, the announcement says %q: announce the version the binary was built as", v.Version, version)
	}
	if v.Target != target {
		return refuse(Architecture, "the binary reports %s, this device needs %s", v.Target, target)
	}
	return nil
}
