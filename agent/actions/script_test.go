package actions

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"edge-agent/agent/authz"
	"edge-agent/transport/testenv"
)

func brokerRunner(t *testing.T, dir string, cfg Config, scripts ...string) *Runner {
	t.Helper()
	cfg.Dir, cfg.Auth = dir, Broker
	for _, s := range scripts {
		cfg.Allowed = append(cfg.Allowed, "script:"+s)
	}
	return newRunner(t, cfg)
}

// A script's output and exit code come back; it has no standard input
// and nothing of the agent's environment.
func TestScriptOutput(t *testing.T) {
	t.Setenv("EDGE_SECRET", "hunter2")
	dir := scriptDir(t, map[string]string{
		"env":  `env | grep -v '^PWD=' | sort; cat; echo "stdin done"; pwd`,
		"fail": `echo out; echo err >&2; exit 3`,
	})
	r := brokerRunner(t, dir, Config{}, "env", "fail")
	res, err := handle(t, r, "script:env", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := scriptEnv[0] + "\nstdin done\n" + dir + "\n"
	if res.Output != want {
		t.Errorf("output %q, want %q", res.Output, want)
	}
	res, err = handle(t, r, "script:fail", nil)
	wantReason(t, err, authz.Failed)
	if !strings.Contains(err.Error(), "exited with status 3") || res.ExitCode != 3 || res.Output != "out\nerr\n" {
		t.Errorf("failing script: %+v %v", res, err)
	}
	if c := r.Counters(); c["runs"] != 2 || c["failures"] != 1 || c["accepted"] != 2 {
		t.Errorf("counters %v", c)
	}
}

// A script that sleeps is killed at the timeout, with the children it
// started; so is one whose request's context ends (the agent stopping).
func TestScriptTimeout(t *testing.T) {
	pids := filepath.Join(t.TempDir(), "pids")
	dir := scriptDir(t, map[string]string{
		"hang": `sleep 300 & echo $! >>` + pids + `; echo $$ >>` + pids + `; echo started; sleep 300`,
	})
	r := brokerRunner(t, dir, Config{ScriptTimeout: time.Second}, "hang")
	start := time.Now()
	res, err := handle(t, r, "script:hang", nil)
	wantReason(t, err, authz.Failed)
	if !strings.Contains(err.Error(), "killed after 1s") || res.ExitCode != -1 || res.Output != "started\n" {
		t.Errorf("timeout: %+v %v", res, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	waitGone(t, pids)

	r = brokerRunner(t, dir, Config{}, "hang")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	os.Remove(pids)
	go func() { _, err := r.Handle(ctx, "script:hang", nil, false); done <- err }()
	testenv.WaitFor(t, "the script to start", func() bool { b, _ := os.ReadFile(pids); return strings.Count(string(b), "\n") == 2 })
	cancel()
	select {
	case err := <-done:
		if !strings.Contains(err.Error(), "agent is stopping") {
			t.Errorf("cancelled: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Handle did not return after its context ended")
	}
	waitGone(t, pids)
	if c := r.Counters(); c["timeouts"] != 0 || c["failures"] != 1 {
		t.Errorf("counters %v", c)
	}
}

// waitGone waits until no process listed in the file is alive (a zombie
// waiting for a reaper that is not the agent counts as gone).
func waitGone(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(b)) {
		testenv.WaitFor(t, "process "+f+" to be killed", func() bool {
			stat, err := os.ReadFile("/proc/" + f + "/stat")
			if err != nil {
				return true
			}
			fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
			return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
		})
	}
}

// 10 MB of output: the script is not blocked, the output is cut at
// MaxOutput with the rest counted, and the agent's memory does not grow
// with it.
func TestScriptOutputFlood(t *testing.T) {
	dir := scriptDir(t, map[string]string{"flood": `head -c 10000000 /dev/zero; echo done >&2`})
	r := brokerRunner(t, dir, Config{MaxOutput: 4096}, "flood")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := handle(t, r, "script:flood", nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Output) != 4096 || res.Truncated != 10000000+5-4096 {
		t.Errorf("kept %d, truncated %d", len(res.Output), res.Truncated)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("10 MB of output allocated %d bytes", grew)
	}
}

// A script that leaves a process outside its group holding the pipe:
// the run still ends, and promptly.
func TestScriptEscapedChild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	dir := scriptDir(t, map[string]string{
		"escape": `setsid sh -c 'echo $$ >` + pidFile + `; exec sleep 300' & while [ ! -s ` + pidFile + ` ]; do sleep 0.01; done; echo left`,
	})
	t.Cleanup(func() {
		b, _ := os.ReadFile(pidFile)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	r := brokerRunner(t, dir, Config{}, "escape")
	start := time.Now()
	res, err := handle(t, r, "script:escape", nil)
	if err != nil || res.Output != "left\n" {
		t.Fatalf("%+v %v", res, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// One run of a script at a time: a second request meanwhile is busy.
func TestScriptBusy(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "running")
	dir := scriptDir(t, map[string]string{"slow": `touch ` + marker + `; sleep 300`, "quick": `echo hi`})
	r := brokerRunner(t, dir, Config{}, "slow", "quick")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Handle(ctx, "script:slow", nil, false) }()
	defer func() { cancel(); <-done }()
	testenv.WaitFor(t, "the first run", func() bool { _, err := os.Stat(marker); return err == nil })
	_, err := handle(t, r, "script:slow", nil)
	wantReason(t, err, authz.Busy)
	if res, err := handle(t, r, "script:quick", nil); err != nil || res.Output != "hi\n" {
		t.Errorf("another script meanwhile: %+v %v", res, err)
	}
	cancel()
	<-done
	if _, err := handle(t, r, "script:quick", nil); err != nil {
		t.Error(err)
	}
	if c := r.Counters(); c["refused_busy"] != 1 || c["accepted"] != 4 || c["runs"] != 3 {
		t.Errorf("counters %v", c)
	}
}

// What may run is decided by whoever may write the actions directory,
// nobody else.
func TestScriptChecks(t *testing.T) {
	dir := scriptDir(t, map[string]string{"ok": "echo ok", "groupw": "echo", "other": "echo", "noexec": "echo"})
	os.Chmod(filepath.Join(dir, "groupw"), 0o775)
	os.Chmod(filepath.Join(dir, "noexec"), 0o644)
	if err := os.Chown(filepath.Join(dir, "other"), 65534, 65534); err != nil {
		t.Skipf("chown needs root: %v", err)
	}
	os.Symlink("/bin/echo", filepath.Join(dir, "link"))
	os.Symlink("ok", filepath.Join(dir, "inlink"))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	r := brokerRunner(t, dir, Config{}, "ok", "groupw", "other", "noexec", "link", "inlink", "sub", "missing")
	for name, want := range map[string]string{
		"groupw":  "writable by group or others",
		"other":   "owned by uid 65534",
		"noexec":  "not executable",
		"link":    "is a symlink",
		"inlink":  "is a symlink",
		"sub":     "not a regular file",
		"missing": "no script missing in " + dir,
	} {
		_, err := handle(t, r, "script:"+name, nil)
		wantReason(t, err, authz.Failed)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	if _, err := handle(t, r, "script:ok", nil); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	_, err := handle(t, r, "script:ok", nil)
	if !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("world-writable directory: %v", err)
	}
	r = brokerRunner(t, filepath.Join(dir, "none"), Config{}, "ok")
	wantReason(t, func() error { _, err := handle(t, r, "script:ok", nil); return err }(), authz.Failed)
}
