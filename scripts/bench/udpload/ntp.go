package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"
)

// protocol is one client's view of a request/reply service.
type protocol interface {
	// request appends the next request to buf[:0] and returns it.
	request(buf []byte) []byte
	// judge classifies a datagram received while waiting for the reply to
	// the last request.
	judge(reply []byte) verdict
	// describe summarises an answered reply for the probe's output.
	describe(reply []byte) string
}

type outcome int

const (
	answered outcome = iota
	// stale: a reply to an earlier request; keep waiting for this one.
	stale
	bad
)

type verdict struct {
	outcome outcome
	reason  string // for bad
	// processing is the server's transmit minus receive timestamp, for
	// protocols that carry them.
	processing    time.Duration
	hasProcessing bool
	// unsynchronised: the server answered but flags its clock as not
	// synchronised (leap indicator 3), which real clients would reject.
	unsynchronised bool
}

const (
	ntpPacketLen = 48
	ntpVersion   = 4
	ntpModeCli   = 3
	ntpModeSrv   = 4
	// Seconds from the NTP era 0 epoch (1900) to the Unix epoch.
	ntpUnixOffset = 2_208_988_800
)

// ntpClient numbers its requests in the fraction of the transmit timestamp:
// starting from a random value, 2^32 requests of one client are all
// distinct, so a late reply can never be taken for the current one, and
// different clients (and runs) do not start from the same value.
type ntpClient struct {
	frac uint32
	xmt  uint64
}

func newNTPClient(id int) *ntpClient {
	return &ntpClient{frac: rand.Uint32() ^ uint32(id)<<24}
}

func (c *ntpClient) request(buf []byte) []byte {
	p := buf[:ntpPacketLen]
	clear(p)
	p[0] = 0<<6 | ntpVersion<<3 | ntpModeCli
	c.frac++
	sec := uint64(time.Now().Unix() + ntpUnixOffset)
	c.xmt = sec<<32 | uint64(c.frac)
	binary.BigEndian.PutUint64(p[40:48], c.xmt)
	return p
}

func (c *ntpClient) judge(r []byte) verdict {
	if len(r) < ntpPacketLen {
		return verdict{outcome: bad, reason: fmt.Sprintf("short reply: %d bytes", len(r))}
	}
	// The origin is checked first: a late reply to an earlier request is
	// not a fault of the server, whatever else it contains.
	if binary.BigEndian.Uint64(r[24:32]) != c.xmt {
		return verdict{outcome: stale}
	}
	li, vn, mode := r[0]>>6, r[0]>>3&7, r[0]&7
	switch {
	case mode != ntpModeSrv:
		return verdict{outcome: bad, reason: fmt.Sprintf("mode %d, want %d", mode, ntpModeSrv)}
	case vn != ntpVersion:
		return verdict{outcome: bad, reason: fmt.Sprintf("version %d, want %d", vn, ntpVersion)}
	case r[1] == 0:
		// A kiss-o'-death tells the client to back off; it carries no time.
		return verdict{outcome: bad, reason: fmt.Sprintf("kiss-o'-death %q", printable(r[12:16]))}
	}
	t2 := binary.BigEndian.Uint64(r[32:40])
	t3 := binary.BigEndian.Uint64(r[40:48])
	if t2 == 0 || t3 == 0 {
		return verdict{outcome: bad, reason: "zero receive or transmit timestamp"}
	}
	return verdict{
		outcome:        answered,
		processing:     ntpDiff(t3, t2),
		hasProcessing:  true,
		unsynchronised: li == 3,
	}
}

// ntpDiff is a - b for two 32.32 fixed-point NTP timestamps. The signed
// difference stays correct across an era rollover.
func ntpDiff(a, b uint64) time.Duration {
	d := int64(a - b)
	return time.Duration(float64(d) * 1e9 / (1 << 32))
}

func (c *ntpClient) describe(r []byte) string {
	refid := fmt.Sprintf("%d.%d.%d.%d", r[12], r[13], r[14], r[15])
	if r[1] <= 1 {
		refid = printable(r[12:16])
	}
	xmt := binary.BigEndian.Uint64(r[40:48])
	t := time.Unix(int64(xmt>>32)-ntpUnixOffset, int64(float64(xmt&0xffffffff)*1e9/(1<<32))).UTC()
	return fmt.Sprintf("leap=%d version=%d mode=%d stratum=%d refid=%s precision=2^%d transmit=%s processing=%v",
		r[0]>>6, r[0]>>3&7, r[0]&7, r[1], refid, int8(r[3]), t.Format(time.RFC3339Nano),
		ntpDiff(xmt, binary.BigEndian.Uint64(r[32:40])))
}

func printable(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			out = append(out, c)
		}
	}
	return string(out)
}
