package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"edge-agent/agent/authz"
)

// Options configures a Store.
type Options struct {
	// Keys returns the keys whose signatures Install accepts, such as
	// (*authz.Verifier).Keys. Nil: every candidate is refused.
	Keys func() *authz.Keys
	// Target is what candidates must be built for; zero: HostTarget().
	Target Target
	// MaxBinarySize bounds a candidate; 0: MaxBinarySize.
	MaxBinarySize int64
	// MaxAttempts is how many starts a new version gets to commit; 0:
	// DefaultMaxAttempts.
	MaxAttempts int
	// VersionTimeout bounds the candidate's "version" run; 0:
	// VersionTimeout.
	VersionTimeout time.Duration
	Log            *slog.Logger
}

// Store installs candidates into, and commits or fails trials in, one
// state directory's slot layout. Its methods may be called from several
// goroutines, one at a time; the directory is locked against other
// processes (the launcher) for each call. An install holds both for as
// long as the body takes to arrive: bound it with ctx.
type Store struct {
	opt Options
	// turn is held by the call under way in this process: it guards l.
	turn chan struct{}
	l    layout
	// noPrealloc turns off reserving a candidate's size before writing,
	// so that tests reach a write that fails for want of space.
	noPrealloc bool

	installed, commits, failures atomic.Uint64
	refused                      [numReasons]atomic.Uint64
}

// Stats are a Store's counters since Open.
type Stats struct {
	Installed, Commits, Failures uint64
	// Refused counts refused candidates by reason.
	Refused map[Reason]uint64
}

// Open returns the Store of stateDir's slot layout, <stateDir>/slots. It
// reads nothing yet: Bootstrap makes the layout, Install needs it.
func Open(stateDir string, opt Options) *Store {
	if opt.Target == (Target{}) {
		opt.Target = HostTarget()
	}
	if opt.MaxBinarySize <= 0 {
		opt.MaxBinarySize = MaxBinarySize
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = DefaultMaxAttempts
	}
	opt.MaxAttempts = min(opt.MaxAttempts, MaxMaxAttempts)
	if opt.VersionTimeout <= 0 {
		opt.VersionTimeout = VersionTimeout
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Store{opt: opt, turn: make(chan struct{}, 1), l: layout{dir: slotsDir(stateDir)}}
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	st := Stats{Installed: s.installed.Load(), Commits: s.commits.Load(), Failures: s.failures.Load(), Refused: map[Reason]uint64{}}
	for _, r := range Reasons() {
		st.Refused[r] = s.refused[r].Load()
	}
	return st
}

// take waits for this process's turn, or with wait false refuses at once
// if a call is under way (an install, which may download for long).
func (s *Store) take(ctx context.Context, wait bool) (release func(), err error) {
	select {
	case s.turn <- struct{}{}:
		return func() { <-s.turn }, nil
	default:
	}
	if !wait {
		return nil, refuse(Busy, "another install is under way")
	}
	select {
	case s.turn <- struct{}{}:
		return func() { <-s.turn }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("update: %w", ctx.Err())
	}
}

// locked runs f in this process's turn, with the slot directory locked
// against other processes and its layout loaded. An install does not
// wait for its turn; other calls wait for it, as long as its download.
func (s *Store) locked(ctx context.Context, install bool, f func(st State) error) error {
	release, err := s.take(ctx, !install)
	if err != nil {
		return err
	}
	defer release()
	unlock, err := s.l.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.l.load()
	if err != nil {
		return err
	}
	return f(st)
}

// State returns the layout as it is on disk.
func (s *Store) State() (State, error) {
	var out State
	err := s.locked(context.Background(), false, func(st State) error { out = st; return nil })
	return out, err
}

// Install checks a candidate and makes it the version on trial. Before
// the body is read it checks the announcement and that the signature's
// key is authorized; it writes the body to a temporary file in the slot
// directory, at most want.Size bytes, and checks its SHA-256 and its
// signature and build target before the file is made executable; then it
// runs it as "version", which must print exactly want.Version and this
// device's target. Only then does the binary replace the slot that is
// not current, and the switch records the trial and then points current
// at it: the launcher's next start runs it. Install refuses while a
// version is on trial or another install is under way (Busy). Refusals
// are *Refusal; a refusal or an error leaves the layout as it was,
// without a temporary file. The caller restarts the agent through the
// launcher to start the trial.
func (s *Store) Install(ctx context.Context, src io.Reader, want Candidate) error {
	err := s.install(ctx, src, want)
	if r := ReasonOf(err); r != 0 {
		s.refused[r].Add(1)
		s.opt.Log.Warn("update refused", "version", want.Version, "reason", r.String(), "err", err)
	} else if err == nil {
		s.installed.Add(1)
		s.opt.Log.Info("update installed, on trial at the next start", "version", want.Version)
	}
	return err
}

func (s *Store) install(ctx context.Context, src io.Reader, want Candidate) error {
	if err := want.Validate(); err != nil {
		return err
	}
	if want.Size > s.opt.MaxBinarySize {
		return refuse(Size, "announced size %d is over this device's limit of %d bytes", want.Size, s.opt.MaxBinarySize)
	}
	if want.Target() != s.opt.Target {
		return refuse(Architecture, "the candidate is built for %s, this device needs %s: send the %s build", want.Target(), s.opt.Target, s.opt.Target)
	}
	var keys *authz.Keys
	if s.opt.Keys != nil {
		keys = s.opt.Keys()
	}
	signed, err := checkSignature(keys, want.Signature)
	if err != nil {
		return err
	}
	err = s.locked(ctx, true, func(st State) error {
		if t := st.Trial; t != nil && t.Slot != st.Current {
			// A switch that failed half way (or a crash): finish it as
			// the launcher would, so that it does not block this one.
			_, done := Decide(st)
			if err := s.l.apply(st, done); err != nil {
				return err
			}
			st = done
		}
		if t := st.Trial; t != nil {
			return refuse(Busy, "version %s in slot %s is on trial (%d of %d starts): it must commit or roll back first",
				st.Slots.Get(t.Slot).Version, t.Slot, t.Attempts, t.MaxAttempts)
		}
		s.l.cleanup()
		slot := st.Current.Other()
		sum, err := s.stage(ctx, src, slot, stageCheck{want: &want, signed: signed})
		if err != nil {
			return err
		}
		next := st
		next.Slots.set(slot, SlotInfo{Version: want.Version, SHA256: sum})
		next.Previous = st.Current
		next.Current = slot
		next.Trial = &Trial{Slot: slot, MaxAttempts: s.opt.MaxAttempts}
		return s.l.apply(st, next)
	})
	switch {
	case err == nil || ReasonOf(err) != 0 || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, ErrNoSlots):
		return refuseErr(IO, err, "this device has no slot layout yet: the installer makes it")
	case errors.Is(err, ErrLayout):
		return refuseErr(IO, err, "the slot layout in %s is damaged: reinstall the agent", s.l.dir)
	case errors.Is(err, ErrLocked):
		return refuseErr(Busy, err, "another process holds the slot directory")
	}
	return refuseErr(IO, err, "switching to the new slot")
}

// Bootstrap makes the slot layout with src as the binary of slot a, the
// current one, without a trial: what the installer does with the binary
// it installs. src is not signed, but it is bounded, and it must run as
// "version" and report this device's target. The pointer file is written
// last, so a crash leaves either no layout or a complete one. It returns
// what the binary reported; ErrExists if there is a layout already.
func (s *Store) Bootstrap(ctx context.Context, src io.Reader) (VersionInfo, error) {
	release, err := s.take(ctx, true)
	if err != nil {
		return VersionInfo{}, err
	}
	defer release()
	if err := mkdirDurable(s.l.dir); err != nil {
		return VersionInfo{}, err
	}
	unlock, err := s.l.lock(ctx)
	if err != nil {
		return VersionInfo{}, err
	}
	defer unlock()
	if _, err := s.l.load(); !errors.Is(err, ErrNoSlots) {
		return VersionInfo{}, fmt.Errorf("%w: %s", ErrExists, s.l.dir)
	}
	s.l.cleanup()
	var v VersionInfo
	sum, err := s.stage(ctx, src, SlotA, stageCheck{reported: &v})
	if err != nil {
		return VersionInfo{}, err
	}
	st := State{Current: SlotA, Slots: Slots{A: SlotInfo{Version: v.Version, SHA256: sum}}}
	data, err := st.marshal()
	if err != nil {
		return VersionInfo{}, err
	}
	if err := s.l.writeFile(stateName, data); err != nil {
		return VersionInfo{}, err
	}
	if err := s.l.writeFile(pointerName, []byte(string(SlotA)+"\n")); err != nil {
		return VersionInfo{}, err
	}
	return v, nil
}

// Commit is called by the version on trial once it is healthy: the trial
// ends, the outcome is committed, and later starts run it without
// counting. ErrNoTrial when no version is on trial (a version may call
// Commit at every healthy start); ErrNotStarted when the launcher has not
// started the trial yet (the caller is the version that installed it);
// ErrFailed when it recorded a failure.
func (s *Store) Commit() error {
	err := s.locked(context.Background(), false, func(st State) error {
		next, err := commit(st)
		if err != nil {
			return err
		}
		if err := s.l.apply(st, next); err != nil {
			return err
		}
		s.opt.Log.Info("update committed", "outcome", next.Last.String())
		return nil
	})
	if err == nil {
		s.commits.Add(1)
	}
	return err
}

// Fail is called by the version on trial when it knows it is not fit
// (services did not bind, the broker was not reached within the health
// window): it records reason, and the next start rolls back. The first
// reason recorded is kept. Errors as Commit's.
func (s *Store) Fail(reason string) error {
	err := s.locked(context.Background(), false, func(st State) error {
		next, err := fail(st, reason)
		if err != nil {
			return err
		}
		return s.l.apply(st, next)
	})
	if err == nil {
		s.failures.Add(1)
		s.opt.Log.Warn("update failed, rolls back at the next start", "reason", reason)
	}
	return err
}

// Report returns the last update's outcome if no start reported it yet,
// and marks it reported; ok is false when there is nothing to report or
// the layout cannot be changed (it is then reported at a later start). A
// version on trial reports nothing: its outcome is not decided.
func (s *Store) Report() (o Outcome, ok bool) {
	err := s.locked(context.Background(), false, func(st State) error {
		if st.Last == nil || st.Last.Reported || st.Trial != nil {
			return nil
		}
		next := st
		last := *st.Last
		last.Reported = true
		next.Last = &last
		if err := s.l.apply(st, next); err != nil {
			return err
		}
		o, ok = *st.Last, true
		return nil
	})
	if err != nil {
		s.opt.Log.Warn("reporting the last update", "err", err)
		return Outcome{}, false
	}
	return o, ok
}
