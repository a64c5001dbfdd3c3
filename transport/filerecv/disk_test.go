package filerecv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"edge-agent/transport/testenv"
)

// A small tmpfs stands in for a full SD card.
func TestDiskFull(t *testing.T) {
	dir := testenv.Tmpfs(t, "1m")
	st, err := OpenStore(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	free, _ := st.Free()
	// The reserve is set below zero and preallocation is off so that the
	// checks before writing let a file through that the file system
	// cannot hold: the write itself must then fail cleanly.
	st.allocate = noPrealloc
	ts := start(t, &Server{Store: st, MinFree: -4 << 20})
	old := randomBytes(100_000)
	if _, err := ts.send(t, "fw.bin", old, SendOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts SendOptions
	}{{"checksummed", SendOptions{}}, {"resumable", SendOptions{Resume: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.send(t, "fw.bin", randomBytes(int(free)+200_000), tc.opts)
			var re *ReplyError
			if !errors.As(err, &re) || re.Code != CodeNoSpace {
				t.Fatalf("upload bigger than the disk: %v, want no_space", err)
			}
			if got, _ := os.ReadFile(filepath.Join(dir, "fw.bin")); !bytes.Equal(got, old) {
				t.Fatal("the previous version was damaged")
			}
			if names := ts.files(t); len(names) != 1 {
				t.Errorf("directory holds %v; the partial file should be gone", names)
			}
		})
	}
}
