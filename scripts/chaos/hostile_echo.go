package main

import (
	"context"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// Hostile echo clients, from 127.66.0.1-64.

// hostileConns runs a hostile TCP client every period: it connects from
// a hostile address and gives f the connection, closed after. The kind
// called name counts f's outcomes and failed dials.
func hostileConns(ctx context.Context, t *tally, name, addr string, period time.Duration, f func(ctx context.Context, k *kind, c *net.TCPConn)) {
	k := t.kind(name, false, 0)
	every(ctx, period, func(ctx context.Context) {
		if c := dialFrom(ctx, hostileAddr(), addr, k.dialFailed); c != nil {
			defer c.Close()
			f(ctx, k, c)
		}
	})
}

// dialFailed counts a hostile client's failed dial as an outcome.
func (k *kind) dialFailed(reason string, _ error) { k.outcome(reason) }

// echoCut sends some bytes, reads some of the echo, and drops the
// connection at a random point, half the time with a reset.
func echoCut(ctx context.Context, t *tally, addr string, period time.Duration) {
	hostileConns(ctx, t, "echo: cut", addr, period, func(ctx context.Context, k *kind, c *net.TCPConn) {
		c.SetDeadline(time.Now().Add(hostileHold))
		msg := randomBytes(1 + rand.IntN(64<<10))
		n, err := c.Write(msg)
		if err != nil {
			k.outcome("refused: " + classify(err))
			return
		}
		io.ReadFull(c, make([]byte, rand.IntN(n+1)))
		if rand.IntN(2) == 0 {
			c.SetLinger(0)
			k.outcome("reset mid-stream")
		} else {
			k.outcome("closed mid-stream")
		}
	})
}

// echoNoRead sends up to 4 MiB without reading a byte of the echo, holds
// the connection a moment and leaves: the agent must stop reading from it
// rather than buffer its replies.
func echoNoRead(ctx context.Context, t *tally, addr string, period time.Duration) {
	hostileConns(ctx, t, "echo: never reads", addr, period, func(ctx context.Context, k *kind, c *net.TCPConn) {
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
		defer stop()
		c.SetReadBuffer(4096)
		c.SetWriteDeadline(time.Now().Add(3 * time.Second))
		chunk := randomBytes(64 << 10)
		var sent int
		for sent < 4<<20 {
			n, err := c.Write(chunk)
			sent += n
			if err != nil {
				break
			}
		}
		sleepCtx(ctx, time.Duration(1+rand.IntN(3))*time.Second)
		switch {
		case sent >= 4<<20:
			k.outcome("all 4 MiB taken")
		default:
			k.outcome("agent stopped reading")
		}
	})
}

// echoConnFlood: more echo connections from one source than its cap.
func echoConnFlood(ctx context.Context, t *tally, addr string, period time.Duration) {
	connFlood(ctx, t, addr, 80, period, "echo: 80 connections from one source")
}

// tcpGarbage sends random bytes to a TCP port and closes.
func tcpGarbage(ctx context.Context, t *tally, name, addr string, period time.Duration) {
	hostileConns(ctx, t, name, addr, period, func(ctx context.Context, k *kind, c *net.TCPConn) {
		c.SetDeadline(time.Now().Add(time.Second))
		c.Write(randomBytes(1 + rand.IntN(4096)))
		if rand.IntN(2) == 0 {
			c.SetLinger(0)
		}
		k.outcome("sent")
	})
}
