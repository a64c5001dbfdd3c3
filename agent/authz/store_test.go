package authz

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hiddeco/sshsig"
	"golang.org/x/sys/unix"

	"edge-agent/transport/testenv"
)

func listed(fps ...string) func(string) bool {
	return func(fp string) bool {
		for _, f := range fps {
			if f == fp {
				return true
			}
		}
		return false
	}
}

func openStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "replay.json")
	s := openStore(t, path)
	all := listed("SHA256:a", "SHA256:b")
	if err := s.Commit("SHA256:a", 10, all); err != nil {
		t.Fatal(err)
	}
	for _, n := range []uint64{10, 9, 1} {
		err := s.Commit("SHA256:a", n, all)
		wantReason(t, err, Replay)
		if !strings.Contains(err.Error(), "not above 10") {
			t.Errorf("message: %v", err)
		}
	}
	if err := s.Commit("SHA256:b", 3, all); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit("SHA256:a", 11, all); err != nil {
		t.Fatal(err)
	}
	wantReason(t, s.Commit("SHA256:c", 99, all), UnknownKey)
	wantReason(t, s.Commit("SHA256:a", 1<<63, all), Malformed)

	// Reopened, as after a restart or a reboot: the same counters.
	s = openStore(t, path)
	if s.Last("SHA256:a") != 11 || s.Last("SHA256:b") != 3 {
		t.Fatalf("after reopening: a=%d b=%d", s.Last("SHA256:a"), s.Last("SHA256:b"))
	}
	wantReason(t, s.Commit("SHA256:a", 11, all), Replay)

	// b is no longer authorized: its commands are refused, and its
	// counter is kept, so that listed again it cannot replay them.
	if err := s.Commit("SHA256:a", 12, listed("SHA256:a")); err != nil {
		t.Fatal(err)
	}
	wantReason(t, s.Commit("SHA256:b", 4, listed("SHA256:a")), UnknownKey)
	data, _ := os.ReadFile(path)
	if string(data) != `{"version":1,"counters":{"SHA256:a":12,"SHA256:b":3}}`+"\n" {
		t.Errorf("file %s", data)
	}
	wantReason(t, s.Commit("SHA256:b", 3, all), Replay)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if names := testenv.DirNames(t, filepath.Dir(path)); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}

// Replay across a restart, through the Verifier: the command signed once
// is refused when sent again to a store opened afresh.
func TestVerifierReplayAcrossRestart(t *testing.T) {
	s := newSigner(t, "ed25519")
	keys := keysOf(t, s)
	path := filepath.Join(t.TempDir(), "replay.json")
	p := payloadOf(t, s, `{"device":"pi-1","action":"reboot","counter":1764547200123456789}`, Namespace, sshsig.HashSHA512)

	v := NewVerifier(keys, openStore(t, path))
	if _, _, err := v.Authorize(p, "pi-1", "reboot"); err != nil {
		t.Fatal(err)
	}
	wantReason(t, func() error { _, _, err := v.Authorize(p, "pi-1", "reboot"); return err }(), Replay)

	v = NewVerifier(keys, openStore(t, path))
	_, key, err := v.Authorize(p, "pi-1", "reboot")
	wantReason(t, err, Replay)
	if key.Comment != "op0@laptop" {
		t.Errorf("refusal names key %+v", key)
	}
	later := payloadOf(t, s, `{"device":"pi-1","action":"reboot","counter":1764547200123456790}`, Namespace, sshsig.HashSHA512)
	if _, _, err := v.Authorize(later, "pi-1", "reboot"); err != nil {
		t.Fatal(err)
	}

	// The key is taken off the list between Verify and Commit.
	cmd, key, err := v.Verify(payloadOf(t, s, `{"device":"pi-1","action":"reboot","counter":1764547200123456791}`, Namespace, sshsig.HashSHA512), "pi-1", "reboot")
	if err != nil {
		t.Fatal(err)
	}
	v.SetKeys(keysOf(t, newSigner(t, "ed25519")))
	wantReason(t, v.Commit(key, cmd.Counter), UnknownKey)
}

// A power cut can stop a write at any step. Whatever it leaves, the store
// reopens with either the old counters or the new ones: never nothing,
// never a mix.
func TestStorePowerCut(t *testing.T) {
	all := listed("SHA256:a")
	for _, c := range []struct {
		name string
		tmp  string // what the cut left in the temporary file
	}{
		{"temporary file created", ""},
		{"temporary file truncated", `{"version":1,"coun`},
		{"temporary file written, not renamed", `{"version":1,"counters":{"SHA256:a":20}}` + "\n"},
		{"temporary file of garbage", "\x00\x00\x00\x00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "replay.json")
			if err := openStore(t, path).Commit("SHA256:a", 10, all); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path+".tmp", []byte(c.tmp), 0o600); err != nil {
				t.Fatal(err)
			}
			s := openStore(t, path)
			// Not renamed means not committed: the command did not run.
			if s.Last("SHA256:a") != 10 {
				t.Fatalf("last %d, want 10", s.Last("SHA256:a"))
			}
			if _, err := os.Stat(path + ".tmp"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("temporary file left: %v", err)
			}
			wantReason(t, s.Commit("SHA256:a", 10, all), Replay)
			if err := s.Commit("SHA256:a", 11, all); err != nil {
				t.Fatal(err)
			}
			if openStore(t, path).Last("SHA256:a") != 11 {
				t.Error("commit after the cut lost")
			}
		})
	}
	// A cut before the first commit ever: no file, only a temporary one.
	path := filepath.Join(t.TempDir(), "replay.json")
	os.WriteFile(path+".tmp", []byte(`{"version":1,"counters":{"SHA256:a":5}}`), 0o600)
	if s := openStore(t, path); s.Last("SHA256:a") != 0 {
		t.Errorf("uncommitted temporary file read: %d", s.Last("SHA256:a"))
	}
}

func TestStoreBadFile(t *testing.T) {
	for _, content := range []string{
		``, `{`, `[]`, `{"version":2,"counters":{}}`,
		`{"version":1,"counters":{"SHA256:a":0}}`,
		`{"version":1,"counters":{"SHA256:a":-1}}`,
		`{"version":1,"counters":{"SHA256:a":9223372036854775808}}`,
		`{"version":1,"counters":{"md5:a":1}}`,
		`{"version":1,"counters":{},"extra":1}`,
		`{"version":1,"counters":{}} {}`,
	} {
		path := filepath.Join(t.TempDir(), "replay.json")
		os.WriteFile(path, []byte(content), 0o600)
		_, err := OpenStore(path)
		if !errors.Is(err, ErrCountersFile) || !strings.Contains(err.Error(), "replayed") {
			t.Errorf("OpenStore of %q: %v", content, err)
		}
	}
}

// A full disk refuses the command (failed) and changes nothing: the old
// file stays whole and the counter in memory stays where it was.
func TestStoreDiskFull(t *testing.T) {
	dir := testenv.Tmpfs(t, "4k")
	path := filepath.Join(dir, "replay.json")
	s := openStore(t, path)
	all := listed("SHA256:a")
	if err := s.Commit("SHA256:a", 10, all); err != nil {
		t.Fatal(err)
	}
	// The one page of this tmpfs holds the file: its replacement has no room.
	err := s.Commit("SHA256:a", 11, all)
	wantReason(t, err, Failed)
	if !errors.Is(err, unix.ENOSPC) {
		t.Errorf("cause: %v", err)
	}
	if s.Last("SHA256:a") != 10 || openStore(t, path).Last("SHA256:a") != 10 {
		t.Errorf("after a failed write: %d", s.Last("SHA256:a"))
	}
	if names := testenv.DirNames(t, dir); len(names) != 1 {
		t.Errorf("tmpfs holds %v", names)
	}
}

// Concurrent commits of one counter: exactly one wins.
func TestStoreCommitRace(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "replay.json"))
	all := listed("SHA256:a")
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Go(func() {
			if s.Commit("SHA256:a", 7, all) == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d commits of one counter accepted", won)
	}
}

// Counters of removed keys are kept up to MaxCounterEntries; past it the
// removed key that signed longest ago goes first, and listed keys stay.
func TestStoreKeepsRemovedKeysBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "counters.json")
	s := openStore(t, path)
	for i := range MaxCounterEntries {
		s.counters[fmt.Sprintf("SHA256:old%d", i)] = uint64(1000 + i)
	}
	s.counters["SHA256:listed"] = 1
	only := listed("SHA256:listed", "SHA256:new")
	if err := s.Commit("SHA256:new", 5, only); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	if n := len(s.counters); n != MaxCounterEntries {
		t.Errorf("%d entries, want %d", n, MaxCounterEntries)
	}
	if s.Last("SHA256:listed") != 1 || s.Last("SHA256:new") != 5 {
		t.Errorf("listed keys: %d, %d", s.Last("SHA256:listed"), s.Last("SHA256:new"))
	}
	if s.Last("SHA256:old0") != 0 || s.Last("SHA256:old1") != 0 || s.Last("SHA256:old2") != 1002 {
		t.Errorf("the two oldest removed keys should have gone: %d %d %d", s.Last("SHA256:old0"), s.Last("SHA256:old1"), s.Last("SHA256:old2"))
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() > MaxKeysFileSize {
		t.Errorf("file: %v, %v", fi, err)
	}
}
