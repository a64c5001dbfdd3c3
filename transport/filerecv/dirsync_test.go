package filerecv

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Once the rename is done the new file is what readers see: a directory
// sync that fails after it is reported as a success with a warning, not
// as a failure that left the previous version in place.
func TestDirSyncFailureAfterTheRename(t *testing.T) {
	st, err := OpenStore(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.syncDir = func() error { return unix.EIO }
	log, logs := bufferLogger()
	ts := start(t, &Server{Store: st, Logger: log})
	for _, opts := range []SendOptions{{}, {Resume: true}} {
		data := randomBytes(10_000)
		res, err := ts.send(t, "cfg", data, opts)
		if err != nil {
			t.Fatalf("upload with a failing directory sync (%+v): %v, want success", opts, err)
		}
		if res.Size != int64(len(data)) {
			t.Errorf("confirmed %d bytes", res.Size)
		}
		if got, _ := os.ReadFile(filepath.Join(ts.dir, "cfg")); !bytes.Equal(got, data) {
			t.Fatal("the new version is not in place")
		}
	}
	if n := ts.counter("dir_sync_failed")(); n != 2 {
		t.Errorf("dir_sync_failed = %d, want 2", n)
	}
	if n := ts.counter("files")(); n != 2 {
		t.Errorf("files = %d, want 2", n)
	}
	if n := strings.Count(logs.String(), "syncing the directory failed"); n != 2 {
		t.Errorf("%d warnings, want 2:\n%s", n, logs)
	}
	if names := ts.files(t); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}
