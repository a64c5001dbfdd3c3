package update

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Calls from several goroutines take turns: of concurrent commits of one
// trial exactly one commits.
func TestConcurrentCalls(t *testing.T) {
	f := newFixture(t)
	f.mustInstall("v2")
	(&starter{}).mustStart(t, f.slots())
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() { errs <- f.store.Commit() })
		wg.Go(func() {
			_, err := f.store.State()
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	var committed, noTrial int
	for err := range errs {
		switch {
		case err == nil:
			committed++
		case errors.Is(err, ErrNoTrial):
			noTrial++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if committed != 5 || noTrial != 3 {
		t.Errorf("%d nil (4 State and one Commit expected), %d ErrNoTrial", committed, noTrial)
	}
	if s := f.store.Stats(); s.Commits != 1 {
		t.Errorf("stats: %+v", s)
	}
}

// An install under way (its body still arriving) makes another one busy
// at once.
func TestSecondInstallBusy(t *testing.T) {
	f := newFixture(t)
	c, body := f.candidate(helper(t, "v2"), "2.0.0")
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() { first <- f.store.Install(context.Background(), pr, c) }()
	// The first install holds its turn once it reads the body.
	if _, err := pw.Write(body[:1]); err != nil {
		t.Fatal(err)
	}
	err := f.install(body, c)
	if ReasonOf(err) != Busy || !strings.Contains(err.Error(), "another install") {
		t.Errorf("second install: %v", err)
	}
	if _, err := pw.Write(body[1:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-first; err != nil {
		t.Fatalf("first install: %v", err)
	}
	ran(t)
}

// A cancelled install stops reading and leaves nothing behind.
func TestInstallCancelled(t *testing.T) {
	f := newFixture(t)
	before := f.snapshot()
	c, body := f.candidate(helper(t, "v2"), "2.0.0")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- f.store.Install(ctx, pr, c) }()
	if _, err := pw.Write(body[:1000]); err != nil {
		t.Fatal(err)
	}
	cancel()
	go pw.Write(body[1000:2000]) // the next read sees the cancel
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Install: %v", err)
	}
	pw.Close()
	if after := f.snapshot(); len(after) != len(before) {
		t.Errorf("slot directory: %v", f.names())
	}
}

func TestLockTimeout(t *testing.T) {
	f := newFixture(t)
	unlock, err := (&layout{dir: f.slots()}).lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := (&layout{dir: f.slots()}).lock(ctx); !errors.Is(err, ErrLocked) {
		t.Errorf("second lock: %v", err)
	}
	unlock()
	unlock2, err := (&layout{dir: f.slots()}).lock(context.Background())
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

// A start that cannot be counted does not start the version on trial:
// on a read-only file system the previous version runs.
func TestLaunchReadOnly(t *testing.T) {
	state := tmpfsFor(t)
	f := newFixtureIn(t, state)
	st := f.loadState()
	st.Previous = SlotA
	st.Slots.B = st.Slots.A
	st.Trial = &Trial{Slot: SlotB, MaxAttempts: 2}
	// A trial of slot b holding v1 again: there is no room for a second
	// binary on this file system, so it is copied by a hard link.
	if err := unix.Link(f.slots()+"/a", f.slots()+"/b"); err != nil {
		t.Fatal(err)
	}
	st.Current = SlotB
	if err := (&layout{dir: f.slots()}).apply(State{Current: SlotA}, st); err != nil {
		t.Fatal(err)
	}
	before := f.snapshot()
	if err := unix.Mount("tmpfs", state, "tmpfs", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	s := &starter{}
	err := launch(&layout{dir: f.slots()}, []string{"edge-agent"}, nil, &stderr, s.exec)
	if err != nil || len(s.ran) != 1 || s.ran[0] != SlotA || !strings.Contains(stderr.String(), "instead of the one on trial") {
		t.Fatalf("launch on a read-only file system: %v, ran %v, %q", err, s.ran, stderr.String())
	}
	if after := f.snapshot(); after["state"] != before["state"] || after["current"] != before["current"] {
		t.Errorf("layout changed")
	}
}
