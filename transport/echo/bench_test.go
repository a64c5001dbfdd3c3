package echo

import (
	"context"
	"edge-agent/transport/testenv"
	"io"
	"net"
	"testing"
)

// benchTCP measures one 64-byte round trip on a connection that stays
// open; allocs/op covers the client and the server, both in this process.
func benchTCP(b *testing.B, portable bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var l net.Listener = ln
	if portable {
		l = plainListener{ln}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	s := &Server{}
	go func() { done <- s.Serve(ctx, l) }()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	reply := make([]byte, 64)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTCPRoundTrip64(b *testing.B) {
	b.Run("epoll", func(b *testing.B) { benchTCP(b, false) })
	b.Run("goroutine-per-conn", func(b *testing.B) { benchTCP(b, true) })
}

func BenchmarkUDPRoundTrip64(b *testing.B) {
	s := &Server{}
	c := testenv.DialUDP(b, testenv.ServeUDP(b, s.ServePacket))
	msg := make([]byte, 64)
	reply := make([]byte, 128)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(reply); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpper(b *testing.B) {
	p := make([]byte, 32<<10)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		Upper.Apply(p)
	}
}
