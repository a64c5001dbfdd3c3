// Package ntp is the agent's SNTP server (RFC 4330, server mode of RFC
// 5905) for LAN devices without a real-time clock.
//
// The worst thing a time server can do is serve a wrong time confidently,
// so every reply says what the kernel says about the host clock (read with
// adjtimex, without privilege):
//
//   - synchronised (no TIME_ERROR, STA_UNSYNC clear, maxerror under 16 s):
//     leap bits from the kernel (STA_INS, STA_DEL), Server.Stratum, root
//     dispersion = the kernel's maxerror, reference time = when the agent
//     last saw the kernel's error bound shrink (an update by the host's
//     time daemon) or, before it has seen one, the oldest time that bound
//     allows;
//   - not synchronised: leap 3 (alarm) and stratum 0, so no client follows,
//     unless FallbackStratum is set for an isolated LAN whose host keeps
//     time with an RTC: then leap 0, that stratum, the local clock's
//     reference ID (127.127.1.1, or LOCL at stratum 1), root dispersion
//     10 ms and reference time now.
//
// A request is answered only if it is at least 48 bytes, mode 3 (client)
// and version 1 to 4; the reply echoes the version, copies the request's
// transmit timestamp into origin, carries the kernel's receive timestamp
// for the datagram (SO_TIMESTAMPNS) and a transmit timestamp taken just
// before sending. A reply is 48 bytes, never longer than its request.
// Everything else is dropped and counted, never logged one by one. Sources
// over the per-source rate get nothing, or, with KissOfDeath, a RATE kiss
// at most every two seconds, which tells real clients to back off.
//
// On Linux the server reads and answers in batches (recvmmsg, sendmmsg)
// and allocates nothing per request. Nearly all of its CPU time per
// request is the kernel's (see serve_linux.go and the README's figures).
package ntp
