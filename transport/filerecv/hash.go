package filerecv

import (
	"crypto/sha256"
	"hash"
	"io"
	"sync/atomic"
)

// trailingHash computes the SHA-256 of a file while it is being written or
// sent, on a goroutine of its own that reads back, from the page cache,
// what has already gone through. The bytes themselves can then move
// between socket and file inside the kernel (splice, sendfile), and on a
// board with more than one core the hashing overlaps the transfer instead
// of following it.
type trailingHash struct {
	r    io.ReaderAt
	h    hash.Hash
	upto chan int64 // the latest length ready to hash; closed at the end
	quit atomic.Bool
	done chan error
}

func startHash(r io.ReaderAt) *trailingHash {
	t := &trailingHash{r: r, h: sha256.New(), upto: make(chan int64, 1), done: make(chan error, 1)}
	go t.run()
	return t
}

func (t *trailingHash) run() {
	bufp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bufp)
	buf := *bufp
	var hashed int64
	for n := range t.upto {
		for hashed < n && !t.quit.Load() {
			k, err := t.r.ReadAt(buf[:min(int64(len(buf)), n-hashed)], hashed)
			t.h.Write(buf[:k])
			hashed += int64(k)
			if err != nil && !(err == io.EOF && hashed == n) {
				t.done <- err
				for range t.upto {
				}
				return
			}
		}
	}
	t.done <- nil
}

// advance says the first n bytes are in place. The latest value wins: the
// hasher catches up in large reads rather than following every step.
func (t *trailingHash) advance(n int64) {
	select {
	case t.upto <- n:
	default:
		select {
		case <-t.upto:
		default:
		}
		t.upto <- n
	}
}

// finish hashes up to n and returns the sum.
func (t *trailingHash) finish(n int64) ([]byte, error) {
	t.advance(n)
	close(t.upto)
	if err := <-t.done; err != nil {
		return nil, err
	}
	return t.h.Sum(nil), nil
}

// stop abandons the hash and waits for the goroutine, so the file can be
// closed under it safely.
func (t *trailingHash) stop() {
	t.quit.Store(true)
	close(t.upto)
	<-t.done
}
