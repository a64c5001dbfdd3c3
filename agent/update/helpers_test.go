package update

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"edge-agent/agent/authz"
	"edge-agent/internal/sshtest"
	"edge-agent/internal/updatetest"
)

// launchEnv switches the test binary into a launcher: the subprocess
// tests run Launch in a process of its own, which it replaces.
const launchEnv = "UPDATE_TEST_LAUNCH"

var helperDir string

func TestMain(m *testing.M) {
	if dir := os.Getenv(launchEnv); dir != "" {
		err := Launch(dir, strings.Fields(os.Getenv("UPDATE_TEST_ARGS")), []string{"HELPER_ENV=passed"})
		fmt.Fprintln(os.Stderr, "launch:", err)
		os.Exit(3)
	}
	dir, err := os.MkdirTemp("", "update-helpers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helperDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The candidate binaries, built once per test binary.
var (
	buildOnce sync.Once
	buildErr  error
	bins      map[string]string
)

func helperSpecs() []updatetest.Spec {
	return []updatetest.Spec{
		{Name: "v1", Version: "1.0.0"},
		{Name: "v2", Version: "2.0.0"},
		{Name: "v2crash", Version: "2.0.0", OnRun: "fail"},
		{Name: "v2hang", Version: "2.0.0", OnRun: "hang"},
		{Name: "v2vfail", Version: "2.0.0", OnVersion: "fail"},
		{Name: "v2vhang", Version: "2.0.0", OnVersion: "hang"},
		{Name: "v2lying", Version: "2.0.0", Line: "edge-agent 2.0.0 go1.26.8 linux/arm64"},
		{Name: "v2arm64", Version: "2.0.0", GOARCH: "arm64"},
	}
}

// helper returns the path of a built helper (shared: copy before
// changing it). Every helper appends "VERSION COMMAND" to markerPath()
// when it runs.
func helper(t testing.TB, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		bins = map[string]string{}
		for _, s := range helperSpecs() {
			s.Marker = markerPath()
			p, err := updatetest.Build(helperDir, s)
			if err != nil {
				buildErr = err
				return
			}
			bins[s.Name] = p
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	p, ok := bins[name]
	if !ok {
		t.Fatalf("no helper %q", name)
	}
	return p
}

func markerPath() string { return filepath.Join(helperDir, "marker") }

// ran returns what helpers ran since the last call, and forgets it.
func ran(t testing.TB) string {
	t.Helper()
	s := updatetest.Markers(t, markerPath())
	os.Remove(markerPath())
	return s
}

// fixture is a state directory bootstrapped with helper v1, and a key
// listed in its authorized keys.
type fixture struct {
	t     *testing.T
	state string
	store *Store
	key   sshtest.Key
	keys  *authz.Keys
}

func newFixture(t *testing.T) *fixture {
	return newFixtureIn(t, t.TempDir())
}

// One key and one signature per helper serve every fixture: ssh-keygen
// runs once for each, not once per test.
var (
	keyOnce  sync.Once
	theKey   sshtest.Key
	sigMu    sync.Mutex
	sigCache = map[string]string{}
)

func sharedKey(t testing.TB) sshtest.Key {
	t.Helper()
	keyOnce.Do(func() {
		k := sshtest.NewKey(t, "ed25519", "operator@laptop")
		// NewKey's directory ends with the test that made it.
		path := filepath.Join(helperDir, "id_ed25519")
		for _, ext := range []string{"", ".pub"} {
			b, err := os.ReadFile(k.Path + ext)
			if err == nil {
				err = os.WriteFile(path+ext, b, 0o600)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		theKey = sshtest.Key{Path: path, AuthorizedLine: k.AuthorizedLine}
	})
	if theKey.Path == "" {
		t.Fatal("no shared key")
	}
	return theKey
}

// sign signs data with k in namespace, once for each content.
func sign(t testing.TB, k sshtest.Key, namespace string, data []byte) string {
	t.Helper()
	id := k.Path + "\x00" + namespace + "\x00" + fileSHABytes(data)
	sigMu.Lock()
	defer sigMu.Unlock()
	if s, ok := sigCache[id]; ok {
		return s
	}
	s := sshtest.Sign(t, k, namespace, data)
	sigCache[id] = s
	return s
}

func newFixtureIn(t *testing.T, state string) *fixture {
	t.Helper()
	key := sharedKey(t)
	keys, err := authz.ParseAuthorizedKeys([]byte(key.AuthorizedLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, state: state, key: key, keys: keys}
	f.store = Open(state, Options{Keys: func() *authz.Keys { return f.keys }})
	v1, err := os.Open(helper(t, "v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	v, err := f.store.Bootstrap(context.Background(), v1)
	if err != nil {
		t.Fatalf("Bootstrap: %v", err)
	}
	if v.Version != "1.0.0" {
		t.Fatalf("Bootstrap reported %+v", v)
	}
	ran(t)
	return f
}

// candidate announces the file at path as version, signed by the
// fixture's key in the update namespace.
func (f *fixture) candidate(path, version string) (Candidate, []byte) {
	f.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return Candidate{
		Version: version, GOOS: "linux", GOARCH: HostTarget().GOARCH,
		Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]),
		Signature: sign(f.t, f.key, Namespace, data),
	}, data
}

func (f *fixture) install(body []byte, c Candidate) error {
	f.t.Helper()
	return f.store.Install(context.Background(), bytes.NewReader(body), c)
}

// mustInstall installs helper name as version 2.0.0.
func (f *fixture) mustInstall(name string) {
	f.t.Helper()
	c, body := f.candidate(helper(f.t, name), "2.0.0")
	if err := f.install(body, c); err != nil {
		f.t.Fatalf("Install %s: %v", name, err)
	}
	ran(f.t)
}

func (f *fixture) slots() string { return slotsDir(f.state) }

func (f *fixture) loadState() State {
	f.t.Helper()
	st, err := (&layout{dir: f.slots()}).load()
	if err != nil {
		f.t.Fatal(err)
	}
	return st
}

// names lists the slot directory.
func (f *fixture) names() []string {
	f.t.Helper()
	entries, err := os.ReadDir(f.slots())
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// snapshot is the slot directory's files and contents.
func (f *fixture) snapshot() map[string]string {
	f.t.Helper()
	m := map[string]string{}
	for _, n := range f.names() {
		b, err := os.ReadFile(filepath.Join(f.slots(), n))
		if err != nil {
			f.t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		m[n] = hex.EncodeToString(sum[:])
	}
	return m
}

func fileSHA(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// checkRunnable asserts what a crash must never break: the slot st
// chooses to run is a complete executable file whose SHA-256 is the one
// recorded for it and is one of the known binaries.
func checkRunnable(t testing.TB, dir string, st State, slot Slot, known ...string) {
	t.Helper()
	path := filepath.Join(dir, string(slot))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("slot %s to run: %v", slot, err)
	}
	if fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("slot %s is not executable: %v", slot, fi.Mode())
	}
	sum := fileSHA(t, path)
	if rec := st.Slots.Get(slot).SHA256; rec != sum {
		t.Fatalf("slot %s holds %s, the state records %q", slot, sum, rec)
	}
	var knownSums []string
	for _, k := range known {
		knownSums = append(knownSums, fileSHA(t, k))
	}
	if !slices.Contains(knownSums, sum) {
		t.Fatalf("slot %s holds an unknown binary %s", slot, sum)
	}
}
