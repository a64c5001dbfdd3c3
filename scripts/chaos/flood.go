package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"
	"unicode/utf8"

	"edge-agent/transport/ntp/protocol"
)

// The UDP services meet two kinds of hostile traffic: a flood of valid
// requests, each source sending a burst and never coming back, from tens
// of thousands of 127.100-254.x.y addresses (the per-source tables must
// stay bounded and honest sources keep their share); and malformed
// datagrams from the 64 hostile addresses, some from service ports that
// must never be answered.

// udpService describes what a valid request and a fitting reply are.
type udpService struct {
	name string
	// servicePorts: whether datagrams from service ports may be answered.
	// NTP servers query each other from port 123, and a reply (mode 4)
	// is never answered by another NTP server, so the SNTP service
	// answers any port but 0; the echo and text time services, whose
	// replies another echo-like service would answer, must not.
	servicePorts bool
	valid        func() []byte
	// garbage returns a malformed or borderline request.
	garbage func() []byte
	// judge checks a reply to req: "" if it is one the agent may send,
	// else what is wrong with it.
	judge func(req, reply []byte) string
}

var ntpService = udpService{
	name:         "ntp",
	servicePorts: true,
	valid: func() []byte {
		p := protocol.Packet{Version: uint8(1 + rand.IntN(4)), Mode: protocol.ModeClient,
			TransmitTime: protocol.TimestampFromTime(time.Now())}
		b, _ := p.MarshalBinary()
		return b
	},
	garbage: func() []byte {
		var p protocol.Packet
		b := make([]byte, protocol.PacketSize)
		switch rand.IntN(6) {
		case 0:
			return randomBytes(rand.IntN(protocol.PacketSize))
		case 1:
			p.Version, p.Mode = 4, protocol.Mode([]uint8{0, 1, 2, 4, 5, 6, 7}[rand.IntN(7)])
		case 2:
			p.Version, p.Mode = []uint8{0, 5, 6, 7}[rand.IntN(4)], protocol.ModeClient
		case 3:
			return randomBytes(protocol.PacketSize)
		case 4:
			// A valid request with extension bytes: the reply must not
			// be longer than 48 bytes all the same.
			p.Version, p.Mode = 4, protocol.ModeClient
			b = append(b, randomBytes(rand.IntN(1000))...)
		default:
			return nil
		}
		p.Put(b)
		return b
	},
	judge: func(req, reply []byte) string {
		if len(req) < protocol.PacketSize || req[0]&7 != 3 || req[0]>>3&7 < 1 || req[0]>>3&7 > 4 {
			return fmt.Sprintf("answered a malformed %d-byte request", len(req))
		}
		if len(reply) > len(req) || len(reply) != protocol.PacketSize {
			return fmt.Sprintf("a %d-byte reply to a %d-byte request", len(reply), len(req))
		}
		return ""
	},
}

var timeService = udpService{
	name:  "time",
	valid: func() []byte { return []byte([]string{"", "%Y-%m-%d %H:%M:%S", "%s", "%A %-d %B %Y"}[rand.IntN(4)]) },
	garbage: func() []byte {
		switch rand.IntN(6) {
		case 0:
			return []byte("%Y\xff\xfe")
		case 1:
			return []byte("%H\x00%M")
		case 2:
			return []byte(fmt.Sprintf("%%%dY", 1000+rand.IntN(1e6)))
		case 3:
			return bytes.Repeat([]byte("%c"), 1+rand.IntN(700))
		case 4:
			return bytes.Repeat([]byte("%"), 1+rand.IntN(1400))
		}
		return randomBytes(rand.IntN(1400))
	},
	judge: func(req, reply []byte) string {
		if limit := min(1024, 64+4*len(req)); len(reply) > limit {
			return fmt.Sprintf("a %d-byte reply to a %d-byte request (cap %d)", len(reply), len(req), limit)
		}
		if (!utf8.Valid(req) || bytes.IndexByte(req, 0) >= 0) && !bytes.HasPrefix(reply, []byte("error: ")) {
			return fmt.Sprintf("%q answered without an error", req)
		}
		return ""
	},
}

var echoService = udpService{
	name:    "echo-udp",
	valid:   func() []byte { return randomBytes(1 + rand.IntN(512)) },
	garbage: func() []byte { return randomBytes([]int{0, 1, 64, 1400, 65507}[rand.IntN(5)]) },
	judge: func(req, reply []byte) string {
		if !bytes.Equal(reply, upperASCII(req)) {
			return fmt.Sprintf("a %d-byte reply to a %d-byte datagram is not its echo", len(reply), len(req))
		}
		return ""
	},
}

// floodBurst is one source's burst, kept open a while for its replies.
type floodBurst struct {
	c    *net.UDPConn
	reqs [][]byte
}

// flood sends bursts of 1 to burstMax valid requests, each burst from a
// new source address, at bursts per second; each socket stays open for
// ringLen bursts, then its replies are counted and it is closed.
func flood(ctx context.Context, t *tally, svc udpService, addr string, bursts, burstMax int, srcs *distinct) {
	k := t.kind(svc.name+": flood", false, 0)
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		k.outcome("setup: " + err.Error())
		return
	}
	const ringLen = 24
	var ring []floodBurst
	drain := func(b floodBurst) {
		defer b.c.Close()
		b.c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		buf := make([]byte, 2048)
		replies := 0
		for replies < len(b.reqs) {
			n, err := b.c.Read(buf)
			if err != nil {
				break
			}
			replies++
			if bad := judgeAny(svc, b.reqs, buf[:n]); bad != "" {
				k.violation(bad)
			} else if svc.name == "ntp" && n >= protocol.PacketSize && buf[1] == 0 && string(buf[12:16]) == "RATE" {
				k.outcome("kiss-o'-death")
			} else {
				k.outcome("answered")
			}
		}
		for range len(b.reqs) - replies {
			k.outcome("no reply (rate limited)")
		}
	}
	defer func() {
		for _, b := range ring {
			drain(b)
		}
	}()
	every(ctx, time.Second/time.Duration(bursts), func(ctx context.Context) {
		src := floodAddr()
		c, err := udpFrom(src, 0)
		if err != nil {
			k.outcome("bind: " + classify(err))
			return
		}
		srcs.add(src)
		b := floodBurst{c: c}
		for range 1 + rand.IntN(burstMax) {
			req := svc.valid()
			if _, err := c.WriteToUDP(req, to); err == nil {
				b.reqs = append(b.reqs, req)
			}
		}
		ring = append(ring, b)
		if len(ring) > ringLen {
			drain(ring[0])
			ring = ring[1:]
		}
	})
}

// judgeAny accepts a reply that fits any of the requests sent.
func judgeAny(svc udpService, reqs [][]byte, reply []byte) string {
	var bad string
	for _, r := range reqs {
		if bad = svc.judge(r, reply); bad == "" {
			return ""
		}
	}
	return bad
}

// servicePorts are source ports the agent must never answer: reflectors
// above 1023 anyone may bind, and below 1024 when the driver is root.
func servicePorts() []uint16 {
	p := []uint16{1900, 3478, 5353, 11211}
	if os.Geteuid() == 0 {
		p = append(p, 7, 19, 123)
	}
	return p
}

// udpGarbage sends one malformed datagram at a time from a hostile
// address, one in four from a service port, and judges any reply.
func udpGarbage(ctx context.Context, t *tally, svc udpService, addr string, period time.Duration) {
	k := t.kind(svc.name+": garbage", false, 0)
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		k.outcome("setup: " + err.Error())
		return
	}
	ports := servicePorts()
	buf := make([]byte, 65536)
	every(ctx, period, func(ctx context.Context) {
		var port uint16
		if rand.IntN(4) == 0 {
			port = ports[rand.IntN(len(ports))]
		}
		c, err := udpFrom(hostileAddr(), port)
		if err != nil {
			// The port is taken on this host: send from an ephemeral one.
			port = 0
			if c, err = udpFrom(hostileAddr(), 0); err != nil {
				k.outcome("bind: " + classify(err))
				return
			}
		}
		defer c.Close()
		req := svc.garbage()
		if _, err := c.WriteToUDP(req, to); err != nil {
			k.outcome("send: " + classify(err))
			return
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		switch {
		case err != nil && port != 0 && !svc.servicePorts:
			k.outcome("no reply (service port)")
		case err != nil:
			k.outcome("no reply")
		case port != 0 && !svc.servicePorts:
			k.violation(fmt.Sprintf("answered a datagram from service port %d", port))
		default:
			if bad := svc.judge(req, buf[:n]); bad != "" {
				k.violation(bad)
			} else {
				k.outcome("answered")
			}
		}
	})
}
