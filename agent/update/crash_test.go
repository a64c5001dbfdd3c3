package update

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// starter runs launch in-process with an exec that records the slot
// instead of replacing the process, and refuses the slots in broken.
type starter struct {
	ran    []Slot
	broken []Slot
}

func (s *starter) exec(path string, argv, env []string) error {
	slot := Slot(filepath.Base(path))
	if slices.Contains(s.broken, slot) {
		return syscall.EACCES
	}
	s.ran = append(s.ran, slot)
	return nil
}

// start is one service start by the launcher; it returns the slot run.
func (s *starter) start(t testing.TB, l *layout) (Slot, error) {
	t.Helper()
	n := len(s.ran)
	err := launch(l, []string{"edge-agent", "run"}, nil, io.Discard, s.exec)
	if err != nil || len(s.ran) == n {
		return "", err
	}
	return s.ran[len(s.ran)-1], nil
}

func (s *starter) mustStart(t testing.TB, dir string) Slot {
	t.Helper()
	slot, err := s.start(t, &layout{dir: dir})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return slot
}

// crashCase is an operation on a layout that setup prepares; after a
// crash at any of its steps, the next start must run one of the binaries
// in expect (helper names), complete and as recorded.
type crashCase struct {
	name    string
	broken  []Slot // slots the exec refuses
	setup   func(t *testing.T, f *fixture, s *starter)
	op      func(t *testing.T, f *fixture, s *starter, l *layout) error
	expect  []string
	outcome string // the last outcome after the crash and the next start, when it must be known
}

var crashCases = []crashCase{
	{
		name: "install",
		op: func(t *testing.T, f *fixture, s *starter, l *layout) error {
			f.store.l = *l
			c, body := f.candidate(helper(t, "v2"), "2.0.0")
			err := f.install(body, c)
			*l = f.store.l
			return err
		},
		expect: []string{"v1", "v2"},
	},
	{
		name:  "first start of the trial",
		setup: func(t *testing.T, f *fixture, s *starter) { f.mustInstall("v2") },
		op: func(t *testing.T, f *fixture, s *starter, l *layout) error {
			_, err := s.start(t, l)
			return err
		},
		expect: []string{"v2"},
	},
	{
		name: "commit",
		setup: func(t *testing.T, f *fixture, s *starter) {
			f.mustInstall("v2")
			s.mustStart(t, f.slots())
		},
		op: func(t *testing.T, f *fixture, s *starter, l *layout) error {
			f.store.l = *l
			err := f.store.Commit()
			*l = f.store.l
			return err
		},
		expect: []string{"v2"},
	},
	{
		name: "fail",
		setup: func(t *testing.T, f *fixture, s *starter) {
			f.mustInstall("v2")
			s.mustStart(t, f.slots())
		},
		op: func(t *testing.T, f *fixture, s *starter, l *layout) error {
			f.store.l = *l
			err := f.store.Fail("missed health window")
			*l = f.store.l
			return err
		},
		expect: []string{"v1", "v2"},
	},
	{
		name: "rollback after the starts are used up",
		setup: func(t *testing.T, f *fixture, s *starter) {
			f.mustInstall("v2")
			s.mustStart(t, f.slots())
			s.mustStart(t, f.slots())
		},
		op: func(t *testing.T, f *fixture, s *starter, l *layout) error {
			_, err := s.start(t, l)
			return err
		},
		expect:  []string{"v1"},
		outcome: "1.0.0 -> 2.0.0: rolled_back: did not commit after 2 starts",
	},
	{
		name: "rollback after a failure",
		setup: func(t *testing.T, f *fixture, s *starter) {
			f.mustInstall("v2")
			s.mustStart(t, f.slots())
			if err := f.store.Fail("missed health window"); err != nil {
				t.Fatal(err)
			}
		},
		op: func(t *testing.T, f *fixture, s *starter, l *layout) error {
			_, err := s.start(t, l)
			return err
		},
		expect:  []string{"v1"},
		outcome: "1.0.0 -> 2.0.0: rolled_back: missed health window",
	},
	{
		name:   "rollback of a version that cannot start",
		broken: []Slot{SlotB},
		setup:  func(t *testing.T, f *fixture, s *starter) { f.mustInstall("v2") },
		op: func(t *testing.T, f *fixture, s *starter, l *layout) error {
			_, err := s.start(t, l)
			return err
		},
		expect:  []string{"v1"},
		outcome: "1.0.0 -> 2.0.0: rolled_back: cannot start: update: exec",
	},
}

// TestCrashAtEveryStep cuts the power after each durable step of each
// operation and checks the next start.
func TestCrashAtEveryStep(t *testing.T) {
	for _, tc := range crashCases {
		t.Run(tc.name, func(t *testing.T) {
			prepare := func() (*fixture, *starter) {
				f := newFixture(t)
				s := &starter{broken: tc.broken}
				if tc.setup != nil {
					tc.setup(t, f, s)
				}
				return f, s
			}
			f, s := prepare()
			l := &layout{dir: f.slots()}
			if err := tc.op(t, f, s, l); err != nil {
				t.Fatalf("without a crash: %v", err)
			}
			steps := l.steps
			if steps < 2 {
				t.Fatalf("%d steps", steps)
			}
			for n := 1; n <= steps; n++ {
				f, s := prepare()
				l := &layout{dir: f.slots(), crashAt: n}
				if err := tc.op(t, f, s, l); !errors.Is(err, errCrash) {
					t.Fatalf("crash after step %d of %d: %v", n, steps, err)
				}
				checkAfterCrash(t, f, s, tc, n)
			}
			t.Logf("%d steps", steps)
		})
	}
}

func checkAfterCrash(t *testing.T, f *fixture, s *starter, tc crashCase, n int) {
	t.Helper()
	slot, err := s.start(t, &layout{dir: f.slots()})
	if err != nil {
		t.Fatalf("step %d: start after the crash: %v", n, err)
	}
	st := f.loadState()
	var known []string
	for _, name := range tc.expect {
		known = append(known, helper(t, name))
	}
	checkRunnable(t, f.slots(), st, slot, known...)
	for _, name := range f.names() {
		if strings.Contains(name, tempMark) {
			t.Errorf("step %d: %s left after the next start", n, name)
		}
	}
	if tc.outcome != "" && (st.Last == nil || !strings.HasPrefix(st.Last.String(), tc.outcome)) {
		t.Errorf("step %d: outcome %v, want %q", n, st.Last, tc.outcome)
	}
	if st.Trial != nil && (st.Trial.Slot != slot || st.Trial.Attempts < 1) {
		t.Errorf("step %d: ran %s with trial %+v", n, slot, st.Trial)
	}
}

// A crash while the layout is first made leaves no layout (the packaged
// binary runs) or a complete one.
func TestCrashDuringBootstrap(t *testing.T) {
	v1, err := os.ReadFile(helper(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := func(crashAt int) (*Store, string, error) {
		state := t.TempDir()
		s := Open(state, Options{})
		s.l.crashAt = crashAt
		_, err := s.Bootstrap(context.Background(), bytes.NewReader(v1))
		return s, state, err
	}
	s, _, err := bootstrap(0)
	if err != nil {
		t.Fatal(err)
	}
	steps := s.l.steps
	for n := 1; n <= steps; n++ {
		_, state, err := bootstrap(n)
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash after step %d of %d: %v", n, steps, err)
		}
		st := &starter{}
		slot, err := st.start(t, &layout{dir: slotsDir(state)})
		if n < steps-1 {
			if !errors.Is(err, ErrNoSlots) {
				t.Errorf("step %d: start: %v, %s; want no layout", n, err, slot)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %v", n, err)
		}
		ls, err := (&layout{dir: slotsDir(state)}).load()
		if err != nil {
			t.Fatal(err)
		}
		checkRunnable(t, slotsDir(state), ls, slot, helper(t, "v1"))
	}
}
