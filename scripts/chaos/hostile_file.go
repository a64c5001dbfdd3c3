package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"edge-agent/transport/filerecv"
)

// Hostile uploads. Every one comes from 127.66.0.1-64 and stores nothing
// if the agent is right: names are refused, bodies are cut before their
// end or carry a wrong checksum or token. Files they name start with
// "hostile-", and the end check fails if any such file exists.

// hostileHold bounds how long a hostile client keeps a connection.
const hostileHold = 5 * time.Second

// fileAttack is one hostile upload on a fresh connection; it returns the
// outcome for the table, or a violation.
type fileAttack struct {
	name string
	run  func(c *net.TCPConn, a *fileAttacks) (outcome, violation string)
}

// fileAttacks is the hostile uploaders' shared state.
type fileAttacks struct {
	token       string
	ledger      *ledger      // the honest uploads, checked with the hostile ones
	resumeBytes atomic.Int64 // body bytes sent in cut resumable uploads
}

var fileAttackList = []fileAttack{
	{"file: bad length", badLength},
	{"file: bad JSON", badJSON},
	{"file: bad name", badName},
	{"file: cut", cutUpload},
	{"file: wrong sha256", wrongSHA},
	{"file: wrong token", wrongToken},
	{"file: too large", tooLarge},
	{"file: resume cut", resumeCut},
	{"file: slowloris", slowloris},
}

// hostileUploads runs the attacks in turn, one connection at a time,
// every period.
func hostileUploads(ctx context.Context, t *tally, a *fileAttacks, addr string, period time.Duration) {
	every(ctx, period, func(ctx context.Context) {
		at := fileAttackList[rand.IntN(len(fileAttackList))]
		k := t.kind(at.name, false, 0)
		c := dialFrom(ctx, hostileAddr(), addr, k.dialFailed)
		if c == nil {
			return
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
		defer stop()
		c.SetDeadline(time.Now().Add(hostileHold + time.Second))
		out, viol := at.run(c, a)
		switch {
		case viol != "":
			k.violation(viol)
		case ctx.Err() == nil:
			k.outcome(out)
		}
	})
}

// connFlood opens more upload connections from one source than its cap
// (4) allows and holds them a moment: the extra ones must be closed.
func connFlood(ctx context.Context, t *tally, addr string, n int, period time.Duration, name string) {
	k := t.kind(name, false, 0)
	every(ctx, period, func(ctx context.Context) {
		src := hostileAddr()
		var conns []*net.TCPConn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for range n {
			if c := dialFrom(ctx, src, addr, k.dialFailed); c != nil {
				conns = append(conns, c)
			}
		}
		// A refused connection is closed by the agent at once; a held one
		// stays silent until the driver lets go.
		buf := make([]byte, 256)
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, err := c.Read(buf)
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				k.outcome("held")
			} else {
				k.outcome("refused")
			}
		}
		sleepCtx(ctx, time.Second)
	})
}

// readAnswer reads one reply frame, or tells how the connection ended.
func readAnswer(c *net.TCPConn) (r reply, outcome string) {
	if err := filerecv.ReadFrame(c, &r); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "reset") {
			return r, "closed by agent"
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return r, "no answer (held)"
		}
		return r, "error: " + classify(err)
	}
	if r.Status == "error" {
		return r, "refused: " + r.Code
	}
	return r, r.Status
}

// waitClosed reads until the agent closes the connection.
func waitClosed(c *net.TCPConn) string {
	c.SetReadDeadline(time.Now().Add(hostileHold))
	n, err := io.Copy(io.Discard, c)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "no answer (held)"
	case n > 0:
		return "closed by agent, after an answer"
	}
	return "closed by agent"
}

func badLength(c *net.TCPConn, _ *fileAttacks) (string, string) {
	lens := [][4]byte{{0, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, {0xff, 0xff, 0xff, 0x7f}, {0, 0, 1, 0}, {0, 1, 0, 0}, {1, 2, 3, 4}}
	l := lens[rand.IntN(len(lens))]
	c.Write(append(l[:], randomBytes(rand.IntN(64))...))
	return waitClosed(c), ""
}

func badJSON(c *net.TCPConn, _ *fileAttacks) (string, string) {
	bodies := []string{
		`{"file_name": "hostile-x", "file_size": `,
		`{"file_name": 7, "file_size": 1, "ack": true}`,
		`{"file_name": "hostile-x", "file_size": -5, "ack": true}`,
		`{"file_name": "hostile-x", "file_size": 1e3, "ack": true}`,
		`{"file_name": "hostile-x", "file_name": "hostile-y", "file_size": 1, "ack": true}`,
		`["file_name", "hostile-x"]`,
		`{"file_name": "hostile-x", "file_size": 1, "sha256": "zz", "ack": true}`,
		"{\"file_name\": \"hostile-\xff\", \"file_size\": 1, \"ack\": true}",
		string(randomBytes(1 + rand.IntN(512))),
	}
	b := []byte(bodies[rand.IntN(len(bodies))])
	frame := binary.LittleEndian.AppendUint32(nil, uint32(len(b)))
	c.Write(append(frame, b...))
	return waitClosed(c), ""
}

func badName(c *net.TCPConn, a *fileAttacks) (string, string) {
	names := []string{"", ".", "..", "../hostile-escape", "hostile/../x", "a\\b", "hostile-\x00x", "hostile-\x1b[31m",
		".edge-hostile", strings.Repeat("h", 256), "hostile-\u0085x", "/etc/hostile"}
	h := filerecv.Header{FileName: names[rand.IntN(len(names))], FileSize: 5, Ack: true, Token: a.token}
	return refused(c, h, fmt.Sprintf("the name %q was accepted", h.FileName))
}

// refused offers the upload h, which the agent must refuse: its answer
// is the outcome; "ready" is the violation described by accepted.
func refused(c *net.TCPConn, h filerecv.Header, accepted string) (outcome, violation string) {
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		return "error: " + classify(err), ""
	}
	r, out := readAnswer(c)
	if r.Status == "ready" {
		return "", accepted
	}
	return out, ""
}

// hostileFile is a header for a random body under a hostile- name.
func hostileFile(a *fileAttacks, size int) (filerecv.Header, []byte) {
	data := randomBytes(size)
	sum := sha256.Sum256(data)
	return filerecv.Header{FileName: fmt.Sprintf("hostile-%d", rand.IntN(1000)), FileSize: int64(size),
		SHA256: sum[:], Ack: true, Token: a.token}, data
}

func cutUpload(c *net.TCPConn, a *fileAttacks) (string, string) {
	h, data := hostileFile(a, 1+rand.IntN(1<<20))
	h.Ack = rand.IntN(2) == 0
	var wire []byte
	w := writerTo(&wire)
	filerecv.WriteHeader(w, h, false)
	headerLen := len(wire)
	wire = append(wire, data...)
	cut := rand.IntN(len(wire)) // never the whole: nothing may be published
	if h.Ack && cut >= headerLen {
		c.Write(wire[:headerLen])
		if r, out := readAnswer(c); r.Status != "ready" {
			return out, ""
		}
		c.Write(wire[headerLen:cut])
	} else {
		c.Write(wire[:cut])
	}
	if rand.IntN(2) == 0 {
		c.SetLinger(0) // a reset rather than a close
	}
	if cut < headerLen {
		return "cut in the header", ""
	}
	return "cut in the body", ""
}

func wrongSHA(c *net.TCPConn, a *fileAttacks) (string, string) {
	h, data := hostileFile(a, rand.IntN(64<<10))
	h.SHA256[0] ^= 0xff
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		return "error: " + classify(err), ""
	}
	if r, out := readAnswer(c); r.Status != "ready" {
		return out, ""
	}
	c.Write(data)
	r, out := readAnswer(c)
	if r.Status == "ok" {
		return "", "a body whose SHA-256 differs from the header's was acknowledged"
	}
	return out, ""
}

func wrongToken(c *net.TCPConn, a *fileAttacks) (string, string) {
	h, data := hostileFile(a, rand.IntN(1024))
	h.Token = fmt.Sprintf("guess-%d", rand.IntN(1e6))
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		return "error: " + classify(err), ""
	}
	r, out := readAnswer(c)
	if r.Status == "ready" {
		c.Write(data)
		if r, _ = readAnswer(c); r.Status == "ok" {
			return "", "an upload with a wrong token was stored"
		}
		return "", "an upload with a wrong token was let in"
	}
	return out, ""
}

func tooLarge(c *net.TCPConn, a *fileAttacks) (string, string) {
	h, _ := hostileFile(a, 0)
	h.FileSize = 1<<40 + rand.Int64N(1<<40)
	h.SHA256 = nil
	return refused(c, h, fmt.Sprintf("a %d-byte upload was let in", h.FileSize))
}

// resumeCut leaves an interrupted resumable upload behind, which the
// agent keeps (as .edge-partial-*) for its sender to continue.
func resumeCut(c *net.TCPConn, a *fileAttacks) (string, string) {
	h, data := hostileFile(a, 1+rand.IntN(256<<10))
	h.Resume = true
	if err := filerecv.WriteHeader(c, h, false); err != nil {
		return "error: " + classify(err), ""
	}
	r, out := readAnswer(c)
	if r.Status != "ready" {
		return out, ""
	}
	n := rand.IntN(len(data))
	c.Write(data[:n])
	a.resumeBytes.Add(int64(n))
	c.SetLinger(0)
	return "cut in the body", ""
}

// slowloris sends a header a byte at a time, then gives up.
func slowloris(c *net.TCPConn, a *fileAttacks) (string, string) {
	h, _ := hostileFile(a, 10)
	var wire []byte
	filerecv.WriteHeader(writerTo(&wire), h, false)
	deadline := time.Now().Add(hostileHold)
	for i := 0; i < len(wire) && time.Now().Before(deadline); i++ {
		if _, err := c.Write(wire[i : i+1]); err != nil {
			return "closed by agent", ""
		}
		time.Sleep(250 * time.Millisecond)
	}
	return "gave up", ""
}

// writerTo appends what is written to *b.
type sliceWriter struct{ b *[]byte }

func writerTo(b *[]byte) sliceWriter { return sliceWriter{b} }

func (w sliceWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}
