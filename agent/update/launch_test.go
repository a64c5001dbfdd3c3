package update

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// launcher runs Launch in a process of its own (this test binary, see
// TestMain), which the chosen slot's binary replaces.
func launcher(t *testing.T, state, args string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), launchEnv+"="+state, "UPDATE_TEST_ARGS="+args)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

type launched struct {
	out, err string
	code     int
}

// launch runs the launcher to its end.
func (f *fixture) launch(args string) launched {
	f.t.Helper()
	cmd := launcher(f.t, f.state, args)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		f.t.Fatalf("the launcher did not end within 30s: %s %s", out.String(), errOut.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		f.t.Fatal(err)
	}
	return launched{out: out.String(), err: errOut.String(), code: cmd.ProcessState.ExitCode()}
}

func (l launched) ran(version string) bool {
	return l.code == 0 && l.out == "running "+version+" run passed\n"
}

func TestLaunchRunsCurrent(t *testing.T) {
	f := newFixture(t)
	before := f.snapshot()
	if got := f.launch("edge-agent"); got.code != 0 || got.out != "running 1.0.0  passed\n" {
		t.Fatalf("launch: %+v", got)
	}
	if got := f.launch("edge-agent run"); !got.ran("1.0.0") {
		t.Fatalf("launch run: %+v", got)
	}
	if after := f.snapshot(); len(after) != len(before) || after["state"] != before["state"] || after["current"] != before["current"] {
		t.Errorf("a start without a trial changed the layout: %v, was %v", after, before)
	}
}

func TestLaunchCommit(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2")
	if err := f.store.Commit(); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Commit before the new version started: %v", err)
	}
	if got := f.launch("edge-agent run"); !got.ran("2.0.0") {
		t.Fatalf("first start: %+v", got)
	}
	if st := f.loadState(); st.Trial == nil || st.Trial.Attempts != 1 {
		t.Fatalf("trial after one start: %+v", st.Trial)
	}
	if err := f.store.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Commit(); !errors.Is(err, ErrNoTrial) {
		t.Errorf("second Commit: %v", err)
	}
	for range 3 {
		if got := f.launch("edge-agent run"); !got.ran("2.0.0") {
			t.Fatalf("start after the commit: %+v", got)
		}
	}
	st := f.loadState()
	if st.Trial != nil || st.Current != SlotB || st.Last.String() != "1.0.0 -> 2.0.0: committed" {
		t.Errorf("state: %+v, last %v", st, st.Last)
	}
	if s := f.store.Stats(); s.Commits != 1 {
		t.Errorf("stats: %+v", s)
	}
}

func TestLaunchRollsBackACrashingVersion(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2crash")
	for i := range DefaultMaxAttempts {
		got := f.launch("edge-agent run")
		if got.code != 1 || !strings.Contains(got.err, "failing on purpose") {
			t.Fatalf("start %d: %+v", i+1, got)
		}
	}
	got := f.launch("edge-agent run")
	if !got.ran("1.0.0") || !strings.Contains(got.err, "update 1.0.0 -> 2.0.0: rolled_back: did not commit after 2 starts") {
		t.Fatalf("start after the trial: %+v", got)
	}
	st := f.loadState()
	if st.Current != SlotA || st.Previous != SlotB || st.Trial != nil || st.Last.Result != RolledBack {
		t.Errorf("state: %+v", st)
	}
	if got := ran(t); got != "2.0.0 run\n2.0.0 run\n1.0.0 run" {
		t.Errorf("runs: %q", got)
	}
	// The rolled back slot is free for the next candidate.
	f.mustInstall("v2")
	if got := f.launch("edge-agent run"); !got.ran("2.0.0") {
		t.Fatalf("start of the next candidate: %+v", got)
	}
}

// A version that hangs without committing is killed by the service
// manager's watchdog; its starts run out the same way.
func TestLaunchRollsBackAHungVersion(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2hang")
	for i := range DefaultMaxAttempts {
		cmd := launcher(t, f.state, "edge-agent run")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		stop := func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		testenv.WaitFor(t, "the hung version to start", func() bool {
			return strings.Count(readMarker(), "2.0.0 run") == i+1
		})
		stop()
	}
	got := f.launch("edge-agent run")
	if !got.ran("1.0.0") || !strings.Contains(got.err, "did not commit after 2 starts") {
		t.Fatalf("start after the hung trial: %+v", got)
	}
	ran(t)
}

func readMarker() string {
	b, _ := os.ReadFile(markerPath())
	return string(b)
}

func TestLaunchRollsBackAfterFail(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2")
	if got := f.launch("edge-agent run"); !got.ran("2.0.0") {
		t.Fatalf("first start: %+v", got)
	}
	if err := f.store.Fail("missed health window: broker not reached in 60s"); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Commit(); !errors.Is(err, ErrFailed) {
		t.Errorf("Commit after Fail: %v", err)
	}
	got := f.launch("edge-agent run")
	if !got.ran("1.0.0") {
		t.Fatalf("start after Fail: %+v", got)
	}
	if st := f.loadState(); st.Last.String() != "1.0.0 -> 2.0.0: rolled_back: missed health window: broker not reached in 60s" {
		t.Errorf("outcome: %v", st.Last)
	}
	if s := f.store.Stats(); s.Failures != 1 {
		t.Errorf("stats: %+v", s)
	}
}

func TestLaunchCannotExecTrial(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2")
	if err := os.Chmod(filepath.Join(f.slots(), "b"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := f.launch("edge-agent run")
	if !got.ran("1.0.0") {
		t.Fatalf("start: %+v", got)
	}
	if st := f.loadState(); st.Current != SlotA || !strings.HasPrefix(st.Last.Reason, "cannot start: update: exec") || !strings.Contains(st.Last.Reason, "permission denied") {
		t.Errorf("outcome: %v", st.Last)
	}
}

// Other commands run the current slot and leave the trial's count alone.
func TestLaunchOtherCommands(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2")
	got := f.launch("edge-agent version")
	if got.code != 0 || !strings.HasPrefix(got.out, "edge-agent 2.0.0 go") {
		t.Fatalf("version through the launcher: %+v", got)
	}
	if st := f.loadState(); st.Trial.Attempts != 0 {
		t.Errorf("attempts after version: %d", st.Trial.Attempts)
	}
}

func TestLaunchWithoutLayout(t *testing.T) {
	f := &fixture{t: t, state: t.TempDir()}
	got := f.launch("edge-agent run")
	if got.code != 3 || !strings.Contains(got.err, "launch: update: no slot layout") {
		t.Fatalf("launch: %+v", got)
	}
}

// A damaged state file costs the trial logic, not the start.
func TestLaunchDamagedState(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2")
	if err := os.WriteFile(filepath.Join(f.slots(), "state"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := f.launch("edge-agent run")
	if !got.ran("2.0.0") || !strings.Contains(got.err, "without trial checks") {
		t.Fatalf("launch: %+v", got)
	}
	if _, err := f.store.State(); !errors.Is(err, ErrLayout) {
		t.Errorf("State: %v", err)
	}
	c, body := f.candidate(helper(t, "v2"), "2.0.0")
	if err := f.install(body, c); ReasonOf(err) != IO || !errors.Is(err, ErrLayout) || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("Install over a damaged state: %v", err)
	}
}
