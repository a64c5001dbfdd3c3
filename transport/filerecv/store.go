package filerecv

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
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
type Store struct {
	dir  string
	root *os.Root
}

// OpenStore opens (creating it if needed) the directory, removes the
// temporary files a crash left behind and the partial uploads older than
// ttl (0 means DefaultPartialTTL).
func OpenStore(dir string, ttl time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("filerecv: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("filerecv: %w", err)
	}
	s := &Store{dir: dir, root: root}
	if _, err := s.Expire(ttl); err != nil {
		root.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the directory.
func (s *Store) Close() error { return s.root.Close() }

// Dir is the directory the store writes to.
func (s *Store) Dir() string { return s.dir }

// Expire removes temporary files and partial uploads not touched within
// ttl, and returns how many it removed. A temporary file is never in use
// across a restart, so all of them go at start-up.
func (s *Store) Expire(ttl time.Duration) (int, error) {
	if ttl <= 0 {
		ttl = DefaultPartialTTL
	}
	d, err := s.root.Open(".")
	if err != nil {
		return 0, fmt.Errorf("filerecv: %w", err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return 0, fmt.Errorf("filerecv: %w", err)
	}
	removed := 0
	for _, e := range entries {
		name := e.Name()
		stale := strings.HasPrefix(name, tmpPrefix)
		if strings.HasPrefix(name, partialPrefix) {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > ttl {
				stale = true
			}
		}
		if stale && s.root.Remove(name) == nil {
			removed++
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

// upload is one file being received.
type upload struct {
	s         *Store
	f         *os.File
	tmp       string
	held      int64 // bytes already present from an earlier attempt
	resumable bool
}

// partialName is where a resumable upload of h is kept: derived from the
// name, size and checksum, so that only the same file resumes it.
func partialName(h Header) string {
	sum := sha256.New()
	io.WriteString(sum, h.FileName)
	binary.Write(sum, binary.BigEndian, h.FileSize)
	sum.Write(h.SHA256)
	return partialPrefix + hex.EncodeToString(sum.Sum(nil)[:16])
}

// begin opens the temporary file for h. For a resumable upload it reopens
// what an earlier attempt left and reports how much of it there is.
func (s *Store) begin(h Header) (*upload, error) {
	u := &upload{s: s, resumable: h.Resume}
	if h.Resume {
		u.tmp = partialName(h)
		f, err := s.root.OpenFile(u.tmp, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return nil, err
		}
		info, err := f.Stat()
		if err != nil || !info.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("partial upload %s is not a regular file", u.tmp)
		}
		u.f, u.held = f, info.Size()
		if u.held > h.FileSize {
			// Not a prefix of this file: start again.
			if err := f.Truncate(0); err != nil {
				f.Close()
				return nil, err
			}
			u.held = 0
		}
		if _, err := f.Seek(u.held, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
		return u, nil
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	u.tmp = tmpPrefix + hex.EncodeToString(rnd[:])
	// Read and write: the checksum is computed by reading back what was written.
	f, err := s.root.OpenFile(u.tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return nil, err
	}
	u.f = f
	return u, nil
}

// commit makes the upload durable under name, replacing any previous
// version in one step.
func (u *upload) commit(name string) error {
	err := u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = u.s.root.Rename(u.tmp, name)
	}
	if err == nil {
		err = u.s.syncDir()
	}
	if err != nil {
		u.s.root.Remove(u.tmp)
	}
	return err
}

// abort drops the upload. keep leaves a resumable upload's partial file
// for the sender to continue.
func (u *upload) abort(keep bool) {
	u.f.Close()
	if !(keep && u.resumable) {
		u.s.root.Remove(u.tmp)
	}
}

// syncDir makes a rename in the directory durable.
func (s *Store) syncDir() error {
	d, err := s.root.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// isNoSpace reports whether err means the file system is full.
func isNoSpace(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}
