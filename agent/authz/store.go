package authz

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// ErrCountersFile is wrapped by the error of a counters file that cannot
// be read. Removing the file starts every key over at 0, which lets
// commands signed before be replayed: it is the operator's decision.
var ErrCountersFile = errors.New("authz: bad replay counters file")

// Store keeps, per key, the highest counter accepted, in one file that is
// replaced whole (temporary file, fsync, rename, directory fsync): after a
// crash at any step the file holds either the old or the new counters.
// It keeps the counters of keys removed from authorized_keys too, so that
// a key listed again cannot replay what it signed before, up to
// MaxCounterEntries in all. Its methods may be called from several
// goroutines.
type Store struct {
	path string

	mu       sync.Mutex
	counters map[string]uint64
}

type countersFile struct {
	Version  int               `json:"version"`
	Counters map[string]uint64 `json:"counters"`
}

// OpenStore reads the counters file at path, or starts empty when there
// is none. Its directory is created (0700) if missing. A temporary file a
// crash left behind is removed: it was never renamed, so it was never
// committed.
func OpenStore(path string) (*Store, error) {
	if err := makeDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("authz: replay counters: %w", err)
	}
	if err := os.Remove(tempName(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("authz: replay counters: %w", err)
	}
	s := &Store{path: path, counters: map[string]uint64{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("authz: replay counters: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxKeysFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("authz: replay counters: %w", err)
	}
	if s.counters, err = parseCounters(data); err != nil {
		return nil, fmt.Errorf("%w %s: %v; removing it lets every command signed before be replayed", ErrCountersFile, path, err)
	}
	return s, nil
}

// MaxCounterEntries bounds the counters file (about 75 bytes an entry):
// room for every listed key and as many removed ones. Past it the entries
// of removed keys with the lowest counters go first; signers count in
// nanoseconds of their clock, so those are the ones that signed last
// longest ago.
const MaxCounterEntries = 4 * MaxKeys

func tempName(path string) string { return path + ".tmp" }

// makeDir creates dir if it is missing, durably: a directory that a power
// cut took away again would take the counters written into it along.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

func parseCounters(data []byte) (map[string]uint64, error) {
	if len(data) > MaxKeysFileSize {
		return nil, fmt.Errorf("over %d bytes", MaxKeysFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cf countersFile
	if err := dec.Decode(&cf); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if cf.Version != 1 {
		return nil, fmt.Errorf("version %d, not 1", cf.Version)
	}
	if len(cf.Counters) > MaxCounterEntries {
		return nil, fmt.Errorf("%d keys, over %d", len(cf.Counters), MaxCounterEntries)
	}
	for fp, n := range cf.Counters {
		if !strings.HasPrefix(fp, "SHA256:") || n == 0 || n > MaxCounter {
			return nil, fmt.Errorf("bad entry %q: %d", fp, n)
		}
	}
	if cf.Counters == nil {
		cf.Counters = map[string]uint64{}
	}
	return cf.Counters, nil
}

// Last returns the highest counter accepted from the key with fingerprint
// fp, 0 for none.
func (s *Store) Last(fp string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters[fp]
}

// Commit accepts counter from the key with fingerprint fp if it is above
// the last one accepted, writing it durably before it returns nil. listed
// says which keys are authorized now: fp must be one, and entries of the
// others are the first to go when the file is full. Refusals: Replay, UnknownKey, and Failed when
// the file could not be written (nothing changed then).
func (s *Store) Commit(fp string, counter uint64, listed func(fp string) bool) error {
	if !listed(fp) {
		return Refuse(UnknownKey, "key %s is no longer in authorized_keys", fp)
	}
	if counter == 0 || counter > MaxCounter {
		return Refuse(Malformed, "counter %d is not between 1 and 2^63-1", counter)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if last := s.counters[fp]; counter <= last {
		return Refuse(Replay, "counter %d is not above %d, the last accepted from %s: sign the command again (a fresh counter)", counter, last, fp)
	}
	next := maps.Clone(s.counters)
	next[fp] = counter
	dropOldestUnlisted(next, listed)
	renamed, err := s.write(next)
	if renamed {
		// The file holds next now, even if its directory was not synced:
		// memory must never be behind the file.
		s.counters = next
	}
	if err != nil {
		return &Refusal{Reason: Failed, Message: "cannot record the replay counter in " + s.path, Err: err}
	}
	return nil
}

// write replaces the file with m. renamed reports whether the new file
// took the old one's name.
func (s *Store) write(m map[string]uint64) (renamed bool, err error) {
	data, err := json.Marshal(countersFile{Version: 1, Counters: m})
	if err != nil {
		return false, err
	}
	tmp := tempName(s.path)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return false, err
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err != nil {
		os.Remove(tmp)
		return false, err
	}
	return true, syncDir(filepath.Dir(s.path))
}

// dropOldestUnlisted removes entries of keys not listed, lowest counter
// first, until m fits MaxCounterEntries.
func dropOldestUnlisted(m map[string]uint64, listed func(fp string) bool) {
	if len(m) <= MaxCounterEntries {
		return
	}
	var gone []string
	for k := range m {
		if !listed(k) {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b string) int { return cmp.Compare(m[a], m[b]) })
	for _, k := range gone {
		if len(m) <= MaxCounterEntries {
			return
		}
		delete(m, k)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
