package filerecv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/peer"
	"edge-agent/transport/testenv"
)

// syncBuffer is a log destination tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func bufferLogger() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// dialFrom connects to addr from the loopback address local.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedAtOnce reports whether the server closed c without a byte.
func closedAtOnce(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return err == io.EOF || isReset(err)
}

func TestWrongTokensLockTheSourceOut(t *testing.T) {
	log, logs := bufferLogger()
	ts := start(t, &Server{Token: "s3cret", Logger: log})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Dial(ctx, ts.addr, SendOptions{Token: "guess"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src := writeTemp(t, []byte("x"))
	var locked time.Time
	for i := range 3 {
		locked = time.Now()
		_, err := s.Send(ctx, src, "f")
		var re *ReplyError
		if !errors.As(err, &re) || re.Code != CodeBadToken {
			t.Fatalf("wrong token %d: %v, want bad_token", i+1, err)
		}
	}
	// The third wrong token ended the connection as well.
	if _, err := s.Send(ctx, src, "f"); err == nil || errors.As(err, new(*ReplyError)) {
		t.Fatalf("a fourth try on the same connection: %v, want the connection closed", err)
	}
	// New connections from the source are closed at once, right token or not.
	for range 3 {
		if c := dialFrom(t, "127.0.0.1", ts.addr); !closedAtOnce(c) {
			t.Fatal("a connection from the locked-out source was not closed")
		}
	}
	testenv.WaitFor(t, "3 lockout refusals", func() bool { return ts.counter("rejected_bad_token_lockout")() == 3 })
	if n := ts.counter("lockouts")(); n != 1 {
		t.Errorf("lockouts = %d, want 1", n)
	}
	// Another source is not affected.
	other := dialFrom(t, "127.0.0.2", ts.addr)
	WriteHeader(other, Header{FileName: "o", FileSize: 1, Ack: true, Token: "s3cret"}, false)
	var ready map[string]any
	if err := ReadFrame(other, &ready); err != nil || ready["status"] != "ready" {
		t.Fatalf("another source during the lockout: %v %v", ready, err)
	}
	// After a second (real time) the source is let in again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := ts.send(t, "after", []byte("ok"), SendOptions{Token: "s3cret"}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the source was still refused 10 s after a 1 s lockout")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if d := time.Since(locked); d < lockoutFirst {
		t.Errorf("let in again %v after the lockout began, want at least %v", d, lockoutFirst)
	}
	if n := strings.Count(logs.String(), "locked out"); n != 1 {
		t.Errorf("%d log lines about the lockout, want 1:\n%s", n, logs)
	}
}

// The receiver's numbers, as README gives them: the third wrong token in
// a row locks for 1 s, each one after it twice as long up to 5 min; 15
// min without a wrong token or a right token wipes the record; at most
// 1,024 sources.
func TestTokenLockoutNumbers(t *testing.T) {
	clock := newFakeClock()
	s := &Server{}
	s.lockout.Now = clock.now
	l := s.tokenLockout()
	k := peer.KeyOf(netip.MustParseAddr("192.0.2.7"))
	first, second := l.Fail(k), l.Fail(k)
	if first != 0 || second != 0 {
		t.Fatal("the first two wrong tokens locked the source out")
	}
	for i, w := range []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300} {
		if d := l.Fail(k); d != w*time.Second {
			t.Fatalf("lockout %d: %v, want %v", i+1, d, w*time.Second)
		}
		clock.advance(w * time.Second)
	}
	clock.advance(lockoutForget - lockoutMax)
	if n := l.Len(); n != 0 {
		t.Errorf("%d sources after %v without a wrong token", n, lockoutForget)
	}
	for i := range lockoutSources + 10 {
		l.Fail(peer.KeyOf(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})))
	}
	if n := l.Len(); n != lockoutSources {
		t.Errorf("table holds %d sources, want %d", n, lockoutSources)
	}
}

// Through the server, on a clock the test moves: each refused connection
// is counted, each lockout logged once, the source let in when it ends,
// and a wrong token after a lockout locks it out again at once, for twice
// as long.
func TestLockoutRefusalsCountedAndLoggedOnce(t *testing.T) {
	clock := newFakeClock()
	log, logs := bufferLogger()
	srv := &Server{Token: "s3cret", Logger: log}
	srv.lockout.Now = clock.now
	ts := start(t, srv)
	for range lockoutAfter {
		_, err := ts.send(t, "f", []byte("x"), SendOptions{Token: "nope"})
		var re *ReplyError
		if !errors.As(err, &re) || re.Code != CodeBadToken {
			t.Fatalf("wrong token: %v", err)
		}
	}
	for range 10 {
		if !closedAtOnce(dialFrom(t, "127.0.0.1", ts.addr)) {
			t.Fatal("a connection during the lockout was not closed")
		}
	}
	testenv.WaitFor(t, "10 refusals", func() bool { return ts.counter("rejected_bad_token_lockout")() == 10 })
	if n := strings.Count(logs.String(), "locked out"); n != 1 {
		t.Errorf("%d log lines for one lockout, want 1", n)
	}
	clock.advance(lockoutFirst)
	// One wrong token is enough now: the next lockout, 2 s.
	_, err := ts.send(t, "f", []byte("x"), SendOptions{Token: "nope"})
	var re *ReplyError
	if !errors.As(err, &re) || re.Code != CodeBadToken {
		t.Fatalf("wrong token after the lockout: %v", err)
	}
	if !closedAtOnce(dialFrom(t, "127.0.0.1", ts.addr)) {
		t.Fatal("one wrong token after a lockout did not lock the source out again")
	}
	testenv.WaitFor(t, "11 refusals", func() bool { return ts.counter("rejected_bad_token_lockout")() == 11 })
	if n := ts.counter("lockouts")(); n != 2 {
		t.Errorf("lockouts = %d, want 2", n)
	}
	if n := ts.counter("lockout_sources")(); n != 1 {
		t.Errorf("lockout_sources = %d during a lockout, want 1", n)
	}
	clock.advance(2*lockoutFirst - time.Millisecond)
	if !closedAtOnce(dialFrom(t, "127.0.0.1", ts.addr)) {
		t.Fatal("the second lockout was shorter than 2 s")
	}
	clock.advance(time.Millisecond)
	ts.mustServe(t)
	if n := strings.Count(logs.String(), "locked out"); n != 2 {
		t.Errorf("%d log lines for two lockouts, want 2", n)
	}
	if n := ts.counter("lockout_sources")(); n != 0 {
		t.Errorf("lockout_sources = %d after a right token", n)
	}
}

func TestTokenComparison(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"s3cret", "s3cret", true},
		{"s3cre", "s3cret", false},
		{"s3crett", "s3cret", false},
		{"", "s3cret", false},
		{"S3CRET", "s3cret", false},
		{strings.Repeat("x", 10000), "s3cret", false},
	} {
		if got := tokenOK(tc.got, tc.want); got != tc.ok {
			t.Errorf("tokenOK(%q, %q) = %t", fmt.Sprintf("%.10s", tc.got), tc.want, got)
		}
	}
}
