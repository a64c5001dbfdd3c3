package filerecv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A partial planted by someone who knows the file's name, size and
// SHA-256 (a garbage prefix, cut) does not stop the honest sender: the
// resumed upload fails to verify, the receiver drops the partial, and the
// sender goes again from byte 0.
func TestPoisonedPartialIsDroppedAndTheSenderStartsAgain(t *testing.T) {
	ts := start(t, &Server{})
	data := randomBytes(200_000)
	for i, tc := range []struct {
		name  string
		plant func(name string)
	}{
		{"garbage prefix, cut midway", func(name string) { plantPartial(t, ts, name, data, randomBytes(100_000)) }},
		{"garbage all but the last byte", func(name string) { plantPartial(t, ts, name, data, randomBytes(len(data)-1)) }},
		// Not possible through the protocol (a full body is verified),
		// but a partial may be whole when the receiver stopped just
		// before checking it.
		{"garbage of the full length", func(name string) {
			h := Header{FileName: name, FileSize: int64(len(data)), SHA256: sha(data)}
			os.WriteFile(filepath.Join(ts.dir, partialName(h)), randomBytes(len(data)), 0o640)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprint("fw-", i)
			tc.plant(name)
			before := ts.counter("partials_discarded")()
			res, err := ts.send(t, name, data, SendOptions{Resume: true})
			if err != nil {
				t.Fatalf("the honest resumed upload: %v", err)
			}
			if res.ResumedFrom != 0 {
				t.Errorf("the upload that succeeded resumed from %d, want 0", res.ResumedFrom)
			}
			if got, _ := os.ReadFile(filepath.Join(ts.dir, name)); !bytes.Equal(got, data) {
				t.Fatal("the stored file differs")
			}
			if n := ts.counter("partials_discarded")() - before; n != 1 {
				t.Errorf("partials_discarded went up by %d, want 1", n)
			}
		})
	}
	for _, n := range ts.files(t) {
		if strings.HasPrefix(n, partialPrefix) {
			t.Errorf("a partial is left: %s", n)
		}
	}
}
