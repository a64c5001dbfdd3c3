package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"edge-agent/agent/authz"
	"edge-agent/internal/sshtest"
	"edge-agent/transport/testenv"
)

func TestInstallStartsTrial(t *testing.T) {
	f := newFixture(t)
	c, body := f.candidate(helper(t, "v2"), "2.0.0")
	if err := f.install(body, c); err != nil {
		t.Fatal(err)
	}
	if got := ran(t); got != "2.0.0 version" {
		t.Errorf("the candidate ran as %q, want exactly one version run", got)
	}
	st := f.loadState()
	want := &Trial{Slot: SlotB, Attempts: 0, MaxAttempts: DefaultMaxAttempts}
	if st.Current != SlotB || st.Previous != SlotA || *st.Trial != *want {
		t.Fatalf("state after install: %+v, trial %+v", st, st.Trial)
	}
	if st.Slots.B != (SlotInfo{Version: "2.0.0", SHA256: c.SHA256}) || st.Slots.A.Version != "1.0.0" {
		t.Errorf("slots: %+v", st.Slots)
	}
	if got := f.names(); !slices.Equal(got, []string{"a", "b", "current", "state"}) {
		t.Errorf("slot directory: %v", got)
	}
	if fi, err := os.Stat(f.slots() + "/b"); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("slot b: %v %v", fi.Mode(), err)
	}
	if s := f.store.Stats(); s.Installed != 1 {
		t.Errorf("stats: %+v", s)
	}
	// Another install must wait for the trial's end.
	err := f.install(body, c)
	if ReasonOf(err) != Busy || !strings.Contains(err.Error(), "on trial") {
		t.Errorf("install during a trial: %v", err)
	}
}

// failingReader fails the test when the body is read: refusals that the
// announcement alone decides come before any download.
type failingReader struct{ t *testing.T }

func (r failingReader) Read([]byte) (int, error) {
	r.t.Error("the body was read")
	return 0, io.EOF
}

func TestInstallRefusals(t *testing.T) {
	f := newFixture(t)
	v2 := helper(t, "v2")
	good, body := f.candidate(v2, "2.0.0")
	other := sshtest.NewKey(t, "ed25519", "stranger@elsewhere")

	tampered := bytes.Clone(body)
	tampered[len(tampered)/2] ^= 1
	resummed, _ := f.candidate(v2, "2.0.0")
	resummed.SHA256 = fileSHABytes(tampered)
	arm, armBody := f.candidate(helper(t, "v2arm64"), "2.0.0")
	lying, lyingBody := f.candidate(helper(t, "v2lying"), "2.0.0")
	vfail, vfailBody := f.candidate(helper(t, "v2vfail"), "2.0.0")
	script := []byte("#!/bin/sh\necho edge-agent 2.0.0 go1.26.8 linux/amd64\n")
	scriptC := good
	scriptC.Size, scriptC.SHA256 = int64(len(script)), fileSHABytes(script)
	scriptC.Signature = sshtest.Sign(t, f.key, Namespace, script)

	with := func(mod func(c *Candidate)) Candidate {
		c := good
		mod(&c)
		return c
	}
	tests := []struct {
		name     string
		c        Candidate
		body     io.Reader
		reason   Reason
		message  string
		executed string // what the candidate's runs left in the marker
	}{
		{"tampered binary", good, bytes.NewReader(tampered), Checksum, "SHA-256", ""},
		{"tampered binary, checksum of the tampered one", resummed, bytes.NewReader(tampered), Signature, "does not verify", ""},
		{"body longer than announced", good, io.MultiReader(bytes.NewReader(body), strings.NewReader("x")), Size, "over the announced", ""},
		{"body shorter than announced", good, bytes.NewReader(body[:len(body)-1]), Size, "ended after", ""},
		{"announced size over the limit", with(func(c *Candidate) { c.Size = MaxBinarySize + 1 }), failingReader{t}, Size, "between 1 and", ""},
		{"signature by an unlisted key", with(func(c *Candidate) { c.Signature = sshtest.Sign(t, other, Namespace, body) }), failingReader{t}, UnknownKey, "not in authorized_keys", ""},
		{"signature in the command namespace", with(func(c *Candidate) { c.Signature = sshtest.Sign(t, f.key, authz.Namespace, body) }), failingReader{t}, Signature, "-n edge-agent-update", ""},
		{"signature not armored", with(func(c *Candidate) { c.Signature = "SSHSIG" }), failingReader{t}, Signature, "armored", ""},
		{"announced for another architecture", with(func(c *Candidate) { c.GOARCH = "arm64" }), failingReader{t}, Architecture, "this device needs", ""},
		{"binary for another architecture", with(func(c *Candidate) { *c = arm; c.GOARCH = HostTarget().GOARCH }), bytes.NewReader(armBody), Architecture, "built for linux/arm64", ""},
		{"not a Go program", scriptC, bytes.NewReader(script), NotExecutable, "not a Go program", ""},
		{"wrong version", with(func(c *Candidate) { c.Version = "2.0.1" }), bytes.NewReader(body), Version, `reports version "2.0.0"`, "2.0.0 version"},
		{"reports another architecture", lying, bytes.NewReader(lyingBody), Architecture, "reports linux/arm64", "2.0.0 version"},
		{"version exits 1", vfail, bytes.NewReader(vfailBody), NotExecutable, "exit status 1", "2.0.0 version"},
	}
	before := f.snapshot()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ran(t)
			err := f.store.Install(context.Background(), tc.body, tc.c)
			if ReasonOf(err) != tc.reason || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("Install: %v; want %v with %q", err, tc.reason, tc.message)
			}
			if !errors.Is(err, &Refusal{Reason: tc.reason}) {
				t.Errorf("errors.Is(%v, %v) is false", err, tc.reason)
			}
			if got := ran(t); got != tc.executed {
				t.Errorf("the candidate ran as %q, want %q", got, tc.executed)
			}
			if after := f.snapshot(); !maps.Equal(after, before) {
				t.Errorf("slot directory changed: %v, was %v", after, before)
			}
		})
	}
	st := f.store.Stats()
	var total uint64
	for _, n := range st.Refused {
		total += n
	}
	if total != uint64(len(tests)) || st.Refused[Architecture] != 3 || st.Installed != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func fileSHABytes(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// tmpfsFor mounts a tmpfs with room for helper v1 and its state, and not
// for a second binary.
func tmpfsFor(t *testing.T) string {
	t.Helper()
	fi, err := os.Stat(helper(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Tmpfs(t, strconv.FormatInt(fi.Size()/1024+256, 10)+"k")
}

func TestInstallVersionTimeout(t *testing.T) {
	f := newFixture(t)
	f.store.opt.VersionTimeout = 300 * time.Millisecond
	c, body := f.candidate(helper(t, "v2vhang"), "2.0.0")
	before := f.snapshot()
	start := time.Now()
	err := f.install(body, c)
	if ReasonOf(err) != NotExecutable || !strings.Contains(err.Error(), "did not finish within 300ms") {
		t.Fatalf("Install: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the refusal took %v", d)
	}
	if got := ran(t); got != "2.0.0 version" {
		t.Errorf("marker %q", got)
	}
	if after := f.snapshot(); !maps.Equal(after, before) {
		t.Errorf("slot directory changed: %v, was %v", after, before)
	}
}

func TestInstallWithoutLayout(t *testing.T) {
	key := sshtest.NewKey(t, "ed25519", "k")
	keys, _ := authz.ParseAuthorizedKeys([]byte(key.AuthorizedLine))
	s := Open(t.TempDir(), Options{Keys: func() *authz.Keys { return keys }})
	f := &fixture{t: t, key: key}
	c, body := f.candidate(helper(t, "v2"), "2.0.0")
	err := s.Install(context.Background(), bytes.NewReader(body), c)
	if ReasonOf(err) != IO || !errors.Is(err, ErrNoSlots) {
		t.Fatalf("Install without a layout: %v", err)
	}
	if err := s.Commit(); !errors.Is(err, ErrNoSlots) {
		t.Errorf("Commit without a layout: %v", err)
	}
	if err := s.Fail("x"); !errors.Is(err, ErrNoSlots) {
		t.Errorf("Fail without a layout: %v", err)
	}
}

func TestBootstrapTwice(t *testing.T) {
	f := newFixture(t)
	v1, _ := os.ReadFile(helper(t, "v1"))
	if _, err := f.store.Bootstrap(context.Background(), bytes.NewReader(v1)); !errors.Is(err, ErrExists) {
		t.Fatalf("second Bootstrap: %v", err)
	}
}

// A disk that fills up, when space is reserved first and when a write
// runs out of it, leaves the current slot as it was and no temporary
// file.
func TestInstallDiskFull(t *testing.T) {
	for _, prealloc := range []bool{true, false} {
		t.Run(map[bool]string{true: "reserved", false: "written"}[prealloc], func(t *testing.T) {
			state := tmpfsFor(t)
			f := newFixtureIn(t, state)
			f.store.noPrealloc = !prealloc
			before := f.snapshot()
			c, body := f.candidate(helper(t, "v2"), "2.0.0")
			err := f.install(body, c)
			if ReasonOf(err) != IO || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("Install on a full disk: %v", err)
			}
			if got := ran(t); got != "" {
				t.Errorf("the candidate ran: %q", got)
			}
			if after := f.snapshot(); !maps.Equal(after, before) {
				t.Errorf("slot directory changed: %v, was %v", after, before)
			}
			st := f.loadState()
			slot, _ := Decide(st)
			checkRunnable(t, f.slots(), st, slot, helper(t, "v1"))
		})
	}
}

func TestBootstrapRefusesAnotherArchitecture(t *testing.T) {
	state := t.TempDir()
	s := Open(state, Options{})
	arm, err := os.ReadFile(helper(t, "v2arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bootstrap(context.Background(), bytes.NewReader(arm)); ReasonOf(err) != Architecture {
		t.Fatalf("Bootstrap of an arm64 binary: %v", err)
	}
	if got := ran(t); got != "" {
		t.Errorf("it ran: %q", got)
	}
	entries, err := os.ReadDir(slotsDir(state))
	if err != nil || len(entries) != 0 {
		t.Errorf("slot directory after the refusal: %v, %v", entries, err)
	}
	if _, err := s.State(); !errors.Is(err, ErrNoSlots) {
		t.Errorf("State: %v", err)
	}
}

// A switch that wrote the trial but not the pointer (a write failed, or
// the power) does not block the next install: it is finished as a
// rollback first.
func TestInstallAfterInterruptedSwitch(t *testing.T) {
	f := newFixture(t)
	// Steps 1-5 stage the binary, 6-10 write the state naming the trial;
	// the pointer is not written.
	f.store.l = layout{dir: f.slots(), crashAt: 10}
	c, body := f.candidate(helper(t, "v2"), "2.0.0")
	if err := f.install(body, c); !errors.Is(err, errCrash) {
		t.Fatalf("install: %v", err)
	}
	f.store.l = layout{dir: f.slots()}
	if st := f.loadState(); st.Trial == nil || st.Current != SlotA {
		t.Fatalf("state after the interrupted switch: %+v", st)
	}
	if err := f.install(body, c); err != nil {
		t.Fatalf("install after an interrupted switch: %v", err)
	}
	st := f.loadState()
	if st.Current != SlotB || st.Trial == nil || st.Last.Reason != "the switch was interrupted before the new version started" {
		t.Errorf("state: %+v, last %v", st, st.Last)
	}
}
