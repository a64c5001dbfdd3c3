//go:build linux

package ntp

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one recvmmsg may return.
const batchSize = 32

// slotSize is read per datagram; only the 48-byte header matters and a
// longer datagram is cut (MSG_TRUNC) without harm.
const slotSize = 512

// mmsghdr is struct mmsghdr: a msghdr and the unsigned int length the
// kernel fills in, padded to pointer alignment. The length is declared
// pointer-sized so that the padding comes out right everywhere: a
// zero-length padding array at the end would itself make Go pad the struct
// on 32-bit ARM, and recvmmsg would then read every entry after the first
// at the wrong place. The kernel writes the low 32 bits (all targets are
// little-endian) and reset clears the rest.
type mmsghdr struct {
	hdr unix.Msghdr
	len uintptr
}

// batch is the memory for one recvmmsg and one sendmmsg, allocated once
// per socket: the kernel fills the in-headers, answer fills the replies.
type batch struct {
	in    [batchSize]mmsghdr
	out   [batchSize]mmsghdr
	iov   [batchSize]unix.Iovec
	oiov  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6
	oob   [batchSize][64]byte
	bufs  [batchSize][slotSize]byte
	reply [batchSize][48]byte
	// outIdx maps an out-slot to the in-slot it answers.
	outIdx [batchSize]int
}

func newBatch() *batch {
	b := new(batch)
	for i := range b.in {
		b.iov[i].Base = &b.bufs[i][0]
		b.iov[i].SetLen(slotSize)
		h := &b.in[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.iov[i]
		h.SetIovlen(1)
		h.Control = &b.oob[i][0]
		b.oiov[i].Base = &b.reply[i][0]
		b.oiov[i].SetLen(48)
	}
	b.reset()
	return b
}

// reset restores the value-result fields recvmmsg overwrites.
func (b *batch) reset() {
	for i := range b.in {
		h := &b.in[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6
		h.SetControllen(len(b.oob[i]))
		h.Flags = 0
		b.in[i].len = 0 // the kernel sets only the low 32 bits
	}
}

// prepareReply points out-slot j at reply i, to the address in-slot i came from.
func (b *batch) prepareReply(j, i int) {
	b.outIdx[j] = i
	h := &b.out[j].hdr
	h.Name = b.in[i].hdr.Name
	h.Namelen = b.in[i].hdr.Namelen
	h.Iov = &b.oiov[i]
	h.SetIovlen(1)
}

func recvmmsg(fd int, msgs []mmsghdr, flags int) (int, unix.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
	return int(n), e
}

func sendmmsg(fd int, msgs []mmsghdr, flags int) (int, unix.Errno) {
	n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
	return int(n), e
}

// sourceOf decodes the sender of in-slot i without allocating.
func (b *batch) sourceOf(i int) netip.AddrPort {
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr).Unmap()
		return netip.AddrPortFrom(a, portOf(sa.Port))
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), portOf(sa4.Port))
	}
	return netip.AddrPort{}
}

// portOf converts a port in network byte order as stored in a sockaddr.
func portOf(p uint16) uint16 {
	var b [2]byte
	*(*uint16)(unsafe.Pointer(&b[0])) = p
	return binary.BigEndian.Uint16(b[:])
}

// rxTime finds the SCM_TIMESTAMPNS control message among the ones
// recvmmsg returned for a datagram.
func rxTime(oob []byte) (time.Time, bool) {
	hdrLen := unix.CmsgLen(0)
	for len(oob) >= hdrLen {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(oob) {
			return time.Time{}, false
		}
		if h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
			ts := (*unix.Timespec)(unsafe.Pointer(&oob[hdrLen]))
			return time.Unix(int64(ts.Sec), int64(ts.Nsec)), true
		}
		oob = oob[min(unix.CmsgSpace(l-hdrLen), len(oob)):]
	}
	return time.Time{}, false
}
