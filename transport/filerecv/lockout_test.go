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

func TestLockoutBackOff(t *testing.T) {
	clock := newFakeClock()
	l := lockout{now: clock.now}
	k := peer.KeyOf(netip.MustParseAddr("192.0.2.7"))
	lockFor := func() time.Duration {
		t.Helper()
		for i := range lockoutAfter - 1 {
			if d := l.wrong(k); d != 0 {
				t.Fatalf("wrong token %d locked out for %v", i+1, d)
			}
		}
		return l.wrong(k)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		d := lockFor()
		if d != w*time.Second {
			t.Fatalf("lockout %d: %v, want %v", i+1, d, w*time.Second)
		}
		clock.advance(d - time.Millisecond)
		if !l.refused(k) {
			t.Fatalf("lockout %d over %v early", i+1, time.Millisecond)
		}
		clock.advance(time.Millisecond)
		if l.refused(k) {
			t.Fatalf("lockout %d not over after %v", i+1, d)
		}
	}
	// A right token starts the source afresh.
	l.right(k)
	if d := lockFor(); d != time.Second {
		t.Errorf("after a right token: locked out for %v, want 1s", d)
	}
	lockFor()
	// So does a quiet spell.
	clock.advance(lockoutForget)
	if d := lockFor(); d != time.Second {
		t.Errorf("after %v without a wrong token: locked out for %v, want 1s", lockoutForget, d)
	}
	clock.advance(time.Second)
	l.wrong(k)
	l.wrong(k)
	clock.advance(lockoutForget)
	if d := l.wrong(k); d != 0 {
		t.Errorf("a wrong token after a quiet spell completed the count of the earlier ones (%v)", d)
	}
}

func TestLockoutTableIsBounded(t *testing.T) {
	clock := newFakeClock()
	l := lockout{now: clock.now}
	key := func(i int) peer.Key {
		return peer.KeyOf(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	for i := range lockoutSources + 100 {
		l.wrong(key(i))
		l.wrong(key(i))
		clock.advance(time.Millisecond)
	}
	if n := l.size(); n != lockoutSources {
		t.Fatalf("table holds %d sources, want %d", n, lockoutSources)
	}
	// The oldest went: its earlier wrong tokens are forgotten.
	if d := l.wrong(key(0)); d != 0 {
		t.Error("an evicted source kept its count")
	}
	// The newest are still counted.
	if d := l.wrong(key(lockoutSources + 99)); d != time.Second {
		t.Errorf("the newest source's third wrong token: %v, want a 1s lockout", d)
	}
}

// Through the server, on a clock the test moves: each refused connection
// is counted, the lockout logged once, and the source let in when it ends.
func TestLockoutRefusalsCountedAndLoggedOnce(t *testing.T) {
	clock := newFakeClock()
	log, logs := bufferLogger()
	srv := &Server{Token: "s3cret", Logger: log}
	srv.lockout.now = clock.now
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
	ts.mustServe(t)
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
