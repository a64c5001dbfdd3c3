package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"edge-agent/transport/ntp/protocol"
)

// Honest clients: each keeps to a fixed rate well inside the agent's
// per-source limits (NTP 4/s, text time 10/s, UDP echo 50/s), so any
// refusal it meets is a failure. An exchange cut short by the end of the
// run is neither a success nor a failure.

// targets are the agent's addresses.
type targets struct {
	echo, file, ntp, time string
}

// exchangeTimeout bounds one honest request/reply on loopback; generous,
// as the host's two CPUs are shared with other work.
const exchangeTimeout = 3 * time.Second

// classify names an error for the table.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by agent"
	case errors.Is(err, errUnplugged):
		return "unplugged"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "connection reset"):
		return "reset by agent"
	}
	return "error"
}

// honestConns runs an honest TCP client of kind k from src every period:
// it connects (a failed dial is a failure of k) and gives f the
// connection, closed after and cut (its deadline now) at the end of the
// run, and the time the attempt began.
func honestConns(ctx context.Context, t *tally, k *kind, src netip.Addr, addr string, period time.Duration,
	f func(ctx context.Context, c *net.TCPConn, t0 time.Time)) {
	every(ctx, period, func(ctx context.Context) {
		t0 := time.Now()
		c := dialFrom(ctx, src, addr, func(reason string, err error) { t.failure(k, t0, reason, err.Error()) })
		if c == nil {
			return
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
		defer stop()
		f(ctx, c, t0)
	})
}

// echoTCP: connect, send one to three messages of up to 8 KiB of random
// bytes, each echoed upper-cased, close.
func echoTCP(ctx context.Context, t *tally, k *kind, src netip.Addr, addr string, period time.Duration) {
	honestConns(ctx, t, k, src, addr, period, func(ctx context.Context, c *net.TCPConn, t0 time.Time) {
		for n := 1 + rand.IntN(3); n > 0; n-- {
			msg := randomBytes(1 + rand.IntN(8192))
			c.SetDeadline(time.Now().Add(exchangeTimeout))
			got := make([]byte, len(msg))
			_, err := c.Write(msg)
			if err == nil {
				_, err = io.ReadFull(c, got)
			}
			if ctx.Err() != nil {
				return
			}
			switch {
			case err != nil:
				t.failure(k, t0, classify(err), err.Error())
				return
			case !bytes.Equal(got, upperASCII(msg)):
				t.failure(k, t0, "wrong echo", fmt.Sprintf("%d bytes differ", len(msg)))
				return
			}
			t.success(k, t0)
			t0 = time.Now()
		}
	})
}

// udpExchange sends req to the agent and reads until match recognises the
// reply to it (a late reply to an earlier request is skipped), or times
// out.
func udpExchange(ctx context.Context, c *net.UDPConn, to *net.UDPAddr, req []byte, match func([]byte) (bool, error)) error {
	if _, err := c.WriteToUDP(req, to); err != nil {
		return err
	}
	buf := make([]byte, 65536)
	c.SetReadDeadline(time.Now().Add(exchangeTimeout))
	stop := context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Now()) })
	defer stop()
	for {
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		if mine, err := match(buf[:n]); mine {
			return err
		}
	}
}

// udpClient runs one honest UDP client on its own socket from src:
// request builds the next request and the matcher for its reply.
func udpClient(ctx context.Context, t *tally, k *kind, src netip.Addr, addr string, period time.Duration,
	request func(seq uint64) ([]byte, func([]byte) (bool, error))) {
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.failure(k, time.Now(), "setup", err.Error())
		return
	}
	c, err := udpFrom(src, 0)
	if err != nil {
		t.failure(k, time.Now(), "setup", err.Error())
		return
	}
	defer c.Close()
	var seq uint64
	every(ctx, period, func(ctx context.Context) {
		seq++
		req, match := request(seq)
		t0 := time.Now()
		err := udpExchange(ctx, c, to, req, match)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			t.failure(k, t0, classify(err), err.Error())
		default:
			t.success(k, t0)
		}
	})
}

// echoUDPRequest: a numbered line of lower-case text, echoed upper-cased.
func echoUDPRequest(seq uint64) ([]byte, func([]byte) (bool, error)) {
	tag := fmt.Sprintf("u%d:", seq)
	body := make([]byte, 1+rand.IntN(512))
	for i := range body {
		body[i] = 'a' + byte(rand.IntN(26))
	}
	req := append([]byte(tag), body...)
	want := upperASCII(req)
	return req, func(b []byte) (bool, error) {
		if !bytes.HasPrefix(b, want[:len(tag)]) {
			return false, nil
		}
		if !bytes.Equal(b, want) {
			return true, errors.New("wrong echo")
		}
		return true, nil
	}
}

// ntpRequest: an SNTP client request whose transmit timestamp (a counter
// in its fraction) identifies the reply, which must be a mode 4 answer
// carrying it as origin, and not a kiss-o'-death.
func ntpRequest(base uint32) func(seq uint64) ([]byte, func([]byte) (bool, error)) {
	return func(seq uint64) ([]byte, func([]byte) (bool, error)) {
		xmt := protocol.TimestampFromTime(time.Now())&^0xffffffff | protocol.Timestamp(base+uint32(seq))
		p := protocol.Packet{Version: 4, Mode: protocol.ModeClient, TransmitTime: xmt}
		req, _ := p.MarshalBinary()
		return req, func(b []byte) (bool, error) {
			var r protocol.Packet
			if r.Unmarshal(b) != nil || r.OriginTime != xmt {
				return false, nil
			}
			switch {
			case len(b) != protocol.PacketSize:
				return true, fmt.Errorf("reply of %d bytes", len(b))
			case r.Mode != protocol.ModeServer || r.Version != 4:
				return true, fmt.Errorf("mode %v version %d", r.Mode, r.Version)
			case r.Stratum == 0 && r.ReferenceID != 0:
				return true, fmt.Errorf("kiss-o'-death %s", protocol.RefIDString(r.ReferenceID, 0))
			case r.TransmitTime == 0:
				return true, errors.New("no transmit timestamp")
			}
			return true, nil
		}
	}
}

// textTimeRequest: "%s <tag>", answered with the Unix time and the tag.
func textTimeRequest(seq uint64) ([]byte, func([]byte) (bool, error)) {
	tag := fmt.Sprintf("t%d", seq)
	return []byte("%s " + tag), func(b []byte) (bool, error) {
		secs, got, ok := strings.Cut(string(b), " ")
		if !ok || got != tag {
			return false, nil
		}
		n, err := strconv.ParseInt(secs, 10, 64)
		if err != nil {
			return true, fmt.Errorf("reply %q", b)
		}
		if d := time.Since(time.Unix(n, 0)); d > 5*time.Second || d < -5*time.Second {
			return true, fmt.Errorf("time off by %v", d)
		}
		return true, nil
	}
}
