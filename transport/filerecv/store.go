package filerecv

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

const (
	tmpPrefix     = ReservedPrefix + "tmp-"
	partialPrefix = ReservedPrefix + "partial-"
)

// DefaultPartialTTL is how long an interrupted resumable upload is kept
// for its sender to come back.
const DefaultPartialTTL = 24 * time.Hour

// Store keeps received files in one directory. Every path goes through an
// os.Root, so neither a name nor a symlink planted in the directory can
// lead outside it. A file appears under its name only once it is complete,
// verified and on disk: it is written to a temporary name, synced, renamed,
// and the directory is synced.
//
// The Store also keeps, in memory, what the directory alone cannot tell:
// which temporary and partial files an upload holds open (expiry never
// touches those), when each partial was last written by the monotonic
// clock (the wall clock may jump by days when NTP first syncs on a board
// without an RTC, and a file's mtime is the wall clock), and how many
// bytes are promised to uploads in progress.
type Store struct {
	dir  string
	root *os.Root
	ttl  time.Duration

	// Replaced by tests: the clock partial ages are read on, the
	// preallocation of an upload's space, and the directory sync that
	// makes a rename durable.
	now      func() time.Time
	allocate func(f *os.File, off, n int64) error
	syncDir  func() error

	mu       sync.Mutex
	open     map[string]bool      // temporary and partial files an upload holds
	written  map[string]time.Time // partial file → when it was last written
	reserved int64                // bytes promised to uploads and not yet held by the file system
}

// OpenStore opens (creating it if needed) the directory and removes the
// temporary files a crash left behind. Partial uploads found there are
// kept, and their age counts from now; ttl (0 means DefaultPartialTTL) is
// how long they are kept unless Server.PartialTTL says otherwise.
func OpenStore(dir string, ttl time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("filerecv: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("filerecv: %w", err)
	}
	s := &Store{
		dir: dir, root: root, ttl: orDefault(ttl, DefaultPartialTTL),
		now: time.Now, allocate: preallocate,
		open: map[string]bool{}, written: map[string]time.Time{},
	}
	s.syncDir = s.syncRoot
	entries, err := s.list()
	if err != nil {
		root.Close()
		return nil, err
	}
	now := s.now()
	for _, e := range entries {
		switch name := e.Name(); {
		case strings.HasPrefix(name, tmpPrefix):
			s.root.Remove(name)
		case strings.HasPrefix(name, partialPrefix):
			s.written[name] = now
			if e.Type().IsRegular() {
				// A crash in the middle of an upload leaves its
				// preallocated space allocated past the end.
				if f, err := s.root.OpenFile(name, os.O_RDWR, 0); err == nil {
					if info, err := f.Stat(); err == nil {
						trimTail(f, info.Size())
					}
					f.Close()
				}
			}
		}
	}
	return s, nil
}

// Close releases the directory.
func (s *Store) Close() error { return s.root.Close() }

// Dir is the directory the store writes to.
func (s *Store) Dir() string { return s.dir }

func (s *Store) list() ([]os.DirEntry, error) {
	d, err := s.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("filerecv: %w", err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("filerecv: %w", err)
	}
	return entries, nil
}

// Expire removes the partial uploads not written to within ttl (0 means
// the store's own) and temporary files that no upload holds, and returns
// how many it removed. A file an upload holds open is never touched. The
// age of a partial is measured on the monotonic clock from its last write
// by this process, or from start-up for one found then: never from its
// mtime.
func (s *Store) Expire(ttl time.Duration) (int, error) {
	ttl = orDefault(ttl, s.ttl)
	entries, err := s.list()
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	removed := 0
	present := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if s.open[name] {
			continue
		}
		stale := strings.HasPrefix(name, tmpPrefix)
		if strings.HasPrefix(name, partialPrefix) {
			present[name] = true
			last, known := s.written[name]
			if !known {
				// Not made by this process since start-up: its age
				// starts now.
				s.written[name] = now
			}
			stale = known && now.Sub(last) > ttl
		}
		if stale && s.root.Remove(name) == nil {
			delete(s.written, name)
			removed++
		}
	}
	for name := range s.written {
		if !present[name] && !s.open[name] {
			delete(s.written, name)
		}
	}
	return removed, nil
}

// Free returns the bytes available to an unprivileged writer.
func (s *Store) Free() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(s.dir, &st); err != nil {
		return 0, fmt.Errorf("filerecv: statfs: %w", err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Reserved returns the bytes promised to uploads in progress that the
// file system does not hold for them yet (where it cannot preallocate).
func (s *Store) Reserved() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserved
}

// syncRoot makes a rename in the directory durable.
func (s *Store) syncRoot() error {
	d, err := s.root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
