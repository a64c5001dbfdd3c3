package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"edge-agent/transport/filerecv"
)

// pacedUpload sends size random bytes at rate bytes/s with sha256 and ack.
func pacedUpload(addr, name string, size, rate int) error {
	data := make([]byte, size)
	rand.Read(data)
	sum := sha256.Sum256(data)
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	h := filerecv.Header{FileName: name, FileSize: int64(size), SHA256: sum[:], Ack: true}
	c.SetDeadline(time.Now().Add(time.Duration(size/rate)*time.Second + 60*time.Second))
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		return err
	}
	if err := readStatus(c, "ready"); err != nil {
		return err
	}
	const chunk = 4 << 10
	tick := time.NewTicker(time.Second * chunk / time.Duration(rate))
	defer tick.Stop()
	for off := 0; off < size; off += chunk {
		<-tick.C
		if _, err := c.Write(data[off:min(off+chunk, size)]); err != nil {
			return err
		}
	}
	return readStatus(c, "ok")
}

func readStatus(c net.Conn, want string) error {
	var f struct{ Status, Code, Message string }
	if err := filerecv.ReadFrame(c, &f); err != nil {
		return err
	}
	if f.Status != want {
		return fmt.Errorf("agent answered %s %s: %s, want %s", f.Status, f.Code, f.Message, want)
	}
	return nil
}

// makePartial starts a resumable upload of 1 MiB and cuts it after half,
// so the agent keeps a partial for EDGE_FILE_PARTIAL_TTL.
func (r *clockRun) makePartial() (size int, sum []byte, data []byte, err error) {
	size = 1 << 20
	data = make([]byte, size)
	rand.Read(data)
	s := sha256.Sum256(data)
	c, err := net.DialTimeout("tcp", r.file, 10*time.Second)
	if err != nil {
		return 0, nil, nil, err
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	h := filerecv.Header{FileName: "resumed.bin", FileSize: int64(size), SHA256: s[:], Ack: true, Resume: true}
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		c.Close()
		return 0, nil, nil, err
	}
	if err := readStatus(c, "ready"); err != nil {
		c.Close()
		return 0, nil, nil, err
	}
	c.Write(data[:size/2])
	// The connection goes once the agent holds the half: the partial's
	// size is what it has received (its space is reserved beyond it).
	if err := r.waitPartial(int64(size / 2)); err != nil {
		c.Close()
		return 0, nil, nil, err
	}
	c.Close()
	r.ok("a resumable upload of 1 MiB cut after 512 KiB")
	return size, s[:], data, nil
}

// waitPartial polls the guest's received directory until a partial
// upload of at least n bytes is there.
func (r *clockRun) waitPartial(n int64) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := r.inGuest("sh", "-c", "stat -c %s /var/lib/edge-agent/received/"+filerecv.ReservedPrefix+"partial-* 2>/dev/null")
		for _, f := range strings.Fields(out) {
			if got, err := strconv.ParseInt(f, 10, 64); err == nil && got >= n {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no partial upload of %d bytes in the guest after 30 s (sizes: %q)", n, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// resumePartial continues the cut upload: the agent must still hold its
// part and say how much.
func (r *clockRun) resumePartial(size int, sum, data []byte) {
	c, err := net.DialTimeout("tcp", r.file, 10*time.Second)
	if err != nil {
		r.fail("resume: %v", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	h := filerecv.Header{FileName: "resumed.bin", FileSize: int64(size), SHA256: sum, Ack: true, Resume: true}
	var ready, done struct {
		Status, Code, Message string
		Offset                int64
		ResumedFrom           int64 `json:"resumed_from"`
		SHA256                string
	}
	err = filerecv.WriteHeader(c, h, false)
	if err == nil {
		err = filerecv.ReadFrame(c, &ready)
	}
	if err != nil || ready.Status != "ready" {
		r.fail("resume: %v, agent answered %+v", err, ready)
		return
	}
	if _, err := c.Write(data[ready.Offset:]); err != nil {
		r.fail("resume: %v", err)
		return
	}
	if err := filerecv.ReadFrame(c, &done); err != nil || done.Status != "ok" || done.SHA256 != hex.EncodeToString(sum) {
		r.fail("resume: %v %+v", err, done)
		return
	}
	if ready.Offset == 0 {
		r.fail("the partial upload kept across the steps is gone: resumed from byte 0 (expired by the wall clock?)")
		return
	}
	r.ok("the partial upload kept across the steps resumed from byte %d and verified", ready.Offset)
}
