package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"sync"
	"time"

	"edge-agent/transport/filerecv"
)

// uploadTimeout bounds one upload; the largest is 1.5 MiB, over qemu's
// user network to an emulated guest.
const uploadTimeout = 60 * time.Second

// replacedNames is how many names each client keeps replacing.
const replacedNames = 3

// uploadRun is one run of the uploaders between two power cuts.
type uploadRun struct {
	addr    string
	cycle   int
	led     *ledger
	seq     sync.Mutex
	nextNew map[int]int
}

// client uploads until stop is closed: new files under names of its own
// and replacements of its few long-lived names, every one with sha256 and
// ack. It dials again while the guest is away.
func (u *uploadRun) client(stop <-chan struct{}, id int) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		c, err := net.DialTimeout("tcp", u.addr, 5*time.Second)
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		for u.one(stop, c, id) {
		}
		c.Close()
	}
}

// one sends one file on c and reports whether c can carry the next.
func (u *uploadRun) one(stop <-chan struct{}, c net.Conn, id int) bool {
	select {
	case <-stop:
		return false
	default:
	}
	var name string
	var size int
	if k := mrand.IntN(2 * replacedNames); k < replacedNames {
		name = fmt.Sprintf("rep-%d-%d.bin", id, k)
		size = 256<<10 + mrand.IntN(1280<<10)
	} else {
		u.seq.Lock()
		n := u.nextNew[id]
		u.nextNew[id]++
		u.seq.Unlock()
		name = fmt.Sprintf("new-%03d-%d-%04d.bin", u.cycle, id, n)
		size = 1<<10 + mrand.IntN(255<<10)
	}
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	h := filerecv.Header{FileName: name, FileSize: int64(size), SHA256: sum[:], Ack: true}
	c.SetDeadline(time.Now().Add(uploadTimeout))
	full, err := sendVerified(c, h, data, hexSum)
	var refused *filerecv.ReplyError
	switch {
	case err == nil:
		u.led.ack(name, hexSum, size)
		return true
	case errors.As(err, &refused):
		// A refusal is not a power cut: say so, the check will fail on
		// anything it left.
		say("upload %s refused: %v", name, err)
		return true
	default:
		u.led.interrupted(name, hexSum, full)
		say("client %d: %s (%d bytes) interrupted, body sent in full: %v: %v", id, name, size, full, err)
		return false
	}
}

// sendVerified sends one file with its SHA-256 in the header and reads
// the agent's answers. full says every byte of the body went out.
func sendVerified(c net.Conn, h filerecv.Header, data []byte, hexSum string) (full bool, err error) {
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		return false, err
	}
	var r struct {
		Status  string        `json:"status"`
		Offset  int64         `json:"offset"`
		Size    int64         `json:"size"`
		SHA256  string        `json:"sha256"`
		Code    filerecv.Code `json:"code"`
		Message string        `json:"message"`
	}
	if err := filerecv.ReadFrame(c, &r); err != nil {
		return false, err
	}
	if r.Status != "ready" {
		return false, &filerecv.ReplyError{Code: r.Code, Message: r.Message}
	}
	if r.Offset != 0 {
		return false, fmt.Errorf("ready at offset %d for an upload without resume", r.Offset)
	}
	if _, err := c.Write(data); err != nil {
		return false, err
	}
	r.Status = ""
	if err := filerecv.ReadFrame(c, &r); err != nil {
		return true, err
	}
	switch {
	case r.Status != "ok":
		return false, &filerecv.ReplyError{Code: r.Code, Message: r.Message}
	case r.Size != h.FileSize || r.SHA256 != hexSum:
		return true, fmt.Errorf("acknowledged %d bytes with sha256 %s, sent %d with %s", r.Size, r.SHA256, h.FileSize, hexSum)
	}
	return true, nil
}

// runUploads runs clients uploaders until stop is closed (the power has
// been cut by then) and waits for them: each finishes the answer it was
// reading, which the host's socket may still hold.
func runUploads(addr string, cycle, clients int, led *ledger, stop <-chan struct{}) {
	u := &uploadRun{addr: addr, cycle: cycle, led: led, nextNew: map[int]int{}}
	var wg sync.WaitGroup
	for id := range clients {
		wg.Go(func() { u.client(stop, id) })
	}
	wg.Wait()
}
