package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// File names in the slot directory, <state>/slots.
const (
	slotsDirName = "slots"
	pointerName  = "current"
	stateName    = "state"
	// tempMark is in the name of every temporary file, so that what a
	// crash left behind can be found and removed.
	tempMark = ".tmp-"
)

// LockTimeout bounds the wait for another process (the launcher, an
// install) to finish with the slot directory.
const LockTimeout = 10 * time.Second

var (
	// ErrNoSlots: the state directory has no slot layout (no pointer
	// file): the packaged binary is all there is.
	ErrNoSlots = errors.New("update: no slot layout")
	// ErrLayout: a file of the layout is not what this version writes.
	ErrLayout = errors.New("update: bad slot layout")
	// ErrLocked: another process held the slot directory for LockTimeout.
	ErrLocked = errors.New("update: slot directory is busy")
	// ErrExists: Bootstrap found a layout already there.
	ErrExists = errors.New("update: a slot layout exists already")
)

// errCrash stops an operation after a step as a power cut would: what
// the step left on disk stays, nothing is cleaned up.
var errCrash = errors.New("update: simulated crash")

// layout does the durable steps in one slot directory. Its step counter
// is how tests cut the power after any step.
type layout struct {
	dir     string
	crashAt int // stop after this step (1-based); 0 never
	steps   int
}

func slotsDir(stateDir string) string { return filepath.Join(stateDir, slotsDirName) }

func (l *layout) path(name string) string { return filepath.Join(l.dir, name) }

// step marks a durable step done.
func (l *layout) step() error {
	l.steps++
	if l.crashAt > 0 && l.steps >= l.crashAt {
		return errCrash
	}
	return nil
}

// lock takes the slot directory for this process: flock on the directory
// itself, released when the returned function is called or the process
// execs or dies.
func (l *layout) lock(ctx context.Context) (unlock func(), err error) {
	d, err := os.Open(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoSlots, l.dir)
	}
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, LockTimeout)
	defer cancel()
	for {
		err := unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { d.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			d.Close()
			return nil, fmt.Errorf("update: lock %s: %w", l.dir, err)
		}
		select {
		case <-ctx.Done():
			d.Close()
			return nil, fmt.Errorf("%w: %s: %v", ErrLocked, l.dir, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// readBounded reads a whole small file, refusing one over max bytes.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%w: %s is over %d bytes", ErrLayout, path, max)
	}
	return b, nil
}

// load reads the pointer and the state file. When only the state file is
// bad, the State returned still has Current, and the error wraps
// ErrLayout: a launcher can still run the current slot.
func (l *layout) load() (State, error) {
	b, err := readBounded(l.path(pointerName), MaxPointerSize)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%w: no %s", ErrNoSlots, l.path(pointerName))
	}
	if err != nil {
		return State{}, fmt.Errorf("update: %w", err)
	}
	cur, err := ParsePointer(b)
	if err != nil {
		return State{}, err
	}
	b, err = readBounded(l.path(stateName), MaxStateSize)
	if err != nil {
		if !errors.Is(err, ErrLayout) {
			err = fmt.Errorf("%w: %v", ErrLayout, err)
		}
		return State{Current: cur}, err
	}
	st, err := ParseState(b)
	st.Current = cur
	return st, err
}

// apply makes next the layout on disk, from old, in an order that leaves
// a runnable layout after a crash at any step: a switch to a trial
// writes the state (naming the trial) before the pointer, so that a
// pointer to the new slot always has its trial recorded; a rollback
// writes the pointer back before the state forgets the trial. In between
// the state names a trial of a slot that is not current, which Decide
// finishes as a rollback.
func (l *layout) apply(old, next State) error {
	data, err := next.marshal()
	if err != nil {
		return err
	}
	writeState := func() error { return l.writeFile(stateName, data) }
	writePointer := func() error { return l.writeFile(pointerName, []byte(string(next.Current)+"\n")) }
	switch {
	case old.Current == next.Current:
		if stateEqual(old, next) {
			return nil
		}
		return writeState()
	case next.Trial != nil && next.Trial.Slot == next.Current:
		if err := writeState(); err != nil {
			return err
		}
		return writePointer()
	default:
		if err := writePointer(); err != nil {
			return err
		}
		return writeState()
	}
}

func stateEqual(a, b State) bool {
	x, errA := a.marshal()
	y, errB := b.marshal()
	return errA == nil && errB == nil && string(x) == string(y)
}

// writeFile replaces name with data durably: a temporary file, fsync,
// rename over name, fsync of the directory.
func (l *layout) writeFile(name string, data []byte) error {
	f, err := os.CreateTemp(l.dir, "."+name+tempMark+"*")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	tmp := f.Name()
	if err := l.step(); err != nil {
		f.Close()
		return err
	}
	err = func() error {
		if _, err := f.Write(data); err != nil {
			return err
		}
		if err := l.step(); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		return l.step()
	}()
	f.Close()
	if err == nil {
		err = os.Rename(tmp, l.path(name))
	}
	if err != nil {
		if !errors.Is(err, errCrash) {
			os.Remove(tmp)
			err = fmt.Errorf("update: write %s: %w", l.path(name), err)
		}
		return err
	}
	if err := l.step(); err != nil {
		return err
	}
	return l.syncDir()
}

// syncDir makes renames and removals in the directory durable.
func (l *layout) syncDir() error {
	d, err := os.Open(l.dir)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("update: sync %s: %w", l.dir, err)
	}
	return l.step()
}

// cleanup removes the temporary files a crash left. It is called with
// the lock held, when no other write can be under way.
func (l *layout) cleanup() {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), tempMark) {
			os.Remove(l.path(e.Name()))
		}
	}
}
