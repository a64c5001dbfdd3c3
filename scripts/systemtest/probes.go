package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"edge-agent/transport/ntp"
)

// limitsCmd checks the per-source rate limits with one burst each.
func limitsCmd(args []string) error {
	fs := flag.NewFlagSet("limits", flag.ExitOnError)
	var r clockRun
	fs.StringVar(&r.echo, "echo", "127.0.0.1:8081", "the agent's echo service (UDP)")
	fs.StringVar(&r.ntpAddr, "ntp", "127.0.0.1:1123", "the agent's SNTP server")
	when := fs.String("when", "now", "what the line says")
	fs.Parse(args)
	r.bursts(*when)
	if len(r.failures) > 0 {
		return errors.New(r.failures[0])
	}
	return nil
}

// sntp asks the agent for the time once.
func sntp(addr string) (*ntp.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return ntp.Query(ctx, addr)
}

// bursts sends 20 SNTP requests and 100 echo datagrams at once and
// counts the answers: the per-source limits (4/s and 50/s, bursts of one
// second's worth) must hold them to about that.
func (r *clockRun) bursts(when string) (ntpN, echoN int) {
	time.Sleep(2 * time.Second) // let the buckets fill
	ntpN, kisses := udpBurst(r.ntpAddr, 20, ntpRequest)
	echoN, _ = udpBurst(r.echo, 100, func() []byte { return []byte("BURST") })
	switch {
	case ntpN < 3 || ntpN > 8:
		r.fail("%s: %d of 20 SNTP requests at once answered, want about 4 (EDGE_NTP_RATE_LIMIT)", when, ntpN)
	case echoN < 30 || echoN > 70:
		r.fail("%s: %d of 100 echo datagrams at once answered, want about 50 (EDGE_ECHO_UDP_RATE_LIMIT)", when, echoN)
	default:
		r.ok("%s: rate limits hold: %d of 20 SNTP requests answered (%d RATE kisses), %d of 100 echo datagrams", when, ntpN, kisses, echoN)
	}
	return ntpN, echoN
}

func ntpRequest() []byte {
	req := make([]byte, 48)
	req[0] = 4<<3 | 3
	rand.Read(req[40:])
	return req
}

// udpBurst sends n datagrams from one socket and counts the replies
// within a second after the last; an SNTP reply at stratum 0 with a
// reference ID is a kiss and counted apart.
func udpBurst(addr string, n int, payload func() []byte) (replies, kisses int) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return 0, 0
	}
	defer c.Close()
	for range n {
		c.Write(payload())
	}
	c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	buf := make([]byte, 2048)
	for {
		m, err := c.Read(buf)
		if err != nil {
			return replies, kisses
		}
		if m >= 48 && buf[0]&7 == 4 && buf[1] == 0 && string(buf[12:16]) == "RATE" {
			kisses++
		} else {
			replies++
		}
	}
}

// holdEcho opens n echo connections and checks each answers once.
func (r *clockRun) holdEcho(n int) ([]net.Conn, error) {
	var held []net.Conn
	for i := range n {
		c, err := net.DialTimeout("tcp", r.echo, 10*time.Second)
		if err != nil {
			return held, err
		}
		held = append(held, c)
		if err := echoOn(c, fmt.Sprintf("HELD %d", i)); err != nil {
			return held, err
		}
	}
	return held, nil
}

// echoOn sends an upper-case line (the same in either echo mode) and
// waits for it back.
func echoOn(c net.Conn, msg string) error {
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return fmt.Errorf("sent %q, got %q", msg, buf)
	}
	return nil
}

// keepBusy exchanges on every held echo connection now and then, and
// reads the MQTT state, for d.
func (r *clockRun) keepBusy(held []net.Conn, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for i, c := range held {
			if err := echoOn(c, "HELD "+strconv.Itoa(i)); err != nil {
				r.fail("echo connection %d: %v", i, err)
			}
		}
		time.Sleep(5 * time.Second)
	}
}
