package filerecv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"edge-agent/transport/testenv"
)

// noPrealloc stands for a file system without fallocate (vfat and the
// like), where the ledger alone holds the reservations.
func noPrealloc(*os.File, int64, int64) error { return unix.EOPNOTSUPP }

// offerUpload sends h on a new connection and returns the connection and
// the receiver's first frame: ready, or the refusal.
func offerUpload(t *testing.T, addr string, h Header) (net.Conn, map[string]any) {
	t.Helper()
	c, first, err := offer(addr, h)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	if err != nil {
		t.Fatal(err)
	}
	return c, first
}

func offer(addr string, h Header) (net.Conn, map[string]any, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	var first map[string]any
	if err := WriteHeader(c, h, false); err != nil {
		return c, nil, err
	}
	if err := ReadFrame(c, &first); err != nil {
		return c, nil, fmt.Errorf("first reply to %s: %w", h, err)
	}
	return c, first, nil
}

// reservingStore is a store on a 1 MiB tmpfs, preallocating or not.
func reservingStore(t *testing.T, prealloc bool) *Store {
	t.Helper()
	st, err := OpenStore(testenv.Tmpfs(t, "1m"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if !prealloc {
		st.allocate = noPrealloc
	}
	return st
}

func TestSpaceIsReservedBeforeReady(t *testing.T) {
	for _, prealloc := range []bool{true, false} {
		t.Run(fmt.Sprint("prealloc=", prealloc), func(t *testing.T) {
			t.Run("two uploads that fit one at a time", func(t *testing.T) {
				st := reservingStore(t, prealloc)
				ts := start(t, &Server{Store: st})
				a, b := randomBytes(600_000), randomBytes(600_000)
				type offered struct {
					c     net.Conn
					first map[string]any
					err   error
					data  []byte
				}
				got := make(chan offered, 2)
				for i, data := range [][]byte{a, b} {
					go func() {
						c, first, err := offer(ts.addr, Header{FileName: fmt.Sprint("f", i), FileSize: int64(len(data)), SHA256: sha(data), Ack: true})
						got <- offered{c, first, err, data}
					}()
				}
				var ready []offered
				refused := 0
				for range 2 {
					o := <-got
					if o.c != nil {
						defer o.c.Close()
					}
					switch {
					case o.err != nil:
						t.Fatal(o.err)
					case o.first["status"] == "ready":
						ready = append(ready, o)
					case o.first["code"] == string(CodeNoSpace):
						refused++
					default:
						t.Fatalf("first reply %v", o.first)
					}
				}
				if len(ready) != 1 || refused != 1 {
					t.Fatalf("%d ready and %d refused with no_space, want 1 and 1", len(ready), refused)
				}
				if prealloc {
					if r := ts.counter("reserved_bytes")(); r != 0 {
						t.Errorf("reserved_bytes = %d with the space preallocated", r)
					}
				} else if r := ts.counter("reserved_bytes")(); r != 600_000 {
					t.Errorf("reserved_bytes = %d, want 600000", r)
				}
				ready[0].c.Write(ready[0].data)
				var res map[string]any
				if err := ReadFrame(ready[0].c, &res); err != nil || res["status"] != "ok" {
					t.Fatalf("the admitted upload: %v %v", res, err)
				}
				if r := ts.counter("reserved_bytes")(); r != 0 {
					t.Errorf("reserved_bytes = %d after the upload", r)
				}
			})
			t.Run("resumable larger than the allowance", func(t *testing.T) {
				st := reservingStore(t, prealloc)
				ts := start(t, &Server{Store: st})
				data := randomBytes(2 << 20)
				_, first := offerUpload(t, ts.addr, Header{FileName: "big", FileSize: int64(len(data)), SHA256: sha(data), Ack: true, Resume: true})
				if first["status"] != "error" || first["code"] != string(CodeNoSpace) {
					t.Fatalf("first reply %v, want no_space before ready", first)
				}
				if names := ts.files(t); len(names) != 0 {
					t.Errorf("directory holds %v", names)
				}
			})
			t.Run("resume offset is what was received", func(t *testing.T) {
				st := reservingStore(t, prealloc)
				ts := start(t, &Server{Store: st})
				empty, _ := st.Free()
				data := randomBytes(700_000)
				plantPartial(t, ts, "r", data, data[:300_000])
				// The preallocated rest is given back when the upload is cut.
				if free, _ := st.Free(); free < empty-300_000-64<<10 {
					t.Errorf("%d bytes free after a 300000-byte partial, %d before", free, empty)
				}
				// Another file takes the space the rest would need.
				other := randomBytes(500_000)
				if _, err := ts.send(t, "other", other, SendOptions{}); err != nil {
					t.Fatal(err)
				}
				_, err := ts.send(t, "r", data, SendOptions{Resume: true})
				var re *ReplyError
				if !errors.As(err, &re) || re.Code != CodeNoSpace {
					t.Fatalf("resuming with no room for the rest: %v, want no_space", err)
				}
				os.Remove(filepath.Join(ts.dir, "other"))
				res, err := ts.send(t, "r", data, SendOptions{Resume: true})
				if err != nil || res.ResumedFrom != 300_000 {
					t.Fatalf("resumed from %d: %v, want from 300000", res.ResumedFrom, err)
				}
				if got, _ := os.ReadFile(filepath.Join(ts.dir, "r")); !bytes.Equal(got, data) {
					t.Error("the resumed file differs")
				}
			})
		})
	}
}

// Where statfs says yes but the file system cannot hold the file (here a
// reserve set below zero), preallocation finds out before ready.
func TestPreallocationRefusesBeforeReady(t *testing.T) {
	st := reservingStore(t, true)
	ts := start(t, &Server{Store: st, MinFree: -4 << 20})
	data := randomBytes(2 << 20)
	for _, resume := range []bool{false, true} {
		_, first := offerUpload(t, ts.addr, Header{FileName: "big", FileSize: int64(len(data)), SHA256: sha(data), Ack: true, Resume: resume})
		if first["status"] != "error" || first["code"] != string(CodeNoSpace) {
			t.Fatalf("resume=%t: first reply %v, want no_space before ready", resume, first)
		}
	}
	if names := ts.files(t); len(names) != 0 {
		t.Errorf("directory holds %v", names)
	}
	if free, _ := st.Free(); free < 1<<20-64<<10 {
		t.Errorf("%d bytes free after refused uploads", free)
	}
}
