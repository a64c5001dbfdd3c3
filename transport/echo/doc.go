// Package echo is the agent's TCP and UDP echo service (seeds 000/001/003,
// RFC 862). Mode Upper sends data back as Python's bytes.upper() would;
// Plain sends it back unchanged.
//
// # Why an epoll loop
//
// The service is meant to hold thousands of mostly idle connections on a
// board with 512 MiB of memory. A goroutine per connection costs its stack
// and a read buffer for as long as the connection lives, busy or not. On
// Linux the server therefore hands each accepted socket to one of a few
// loops (one per core, at most four). A loop keeps its sockets in an epoll
// set, reads into one buffer it shares among them, transforms in place and
// writes straight back. An idle connection costs a map entry and a small
// struct; a peer that does not read gets at most one read's worth held for
// it, and its socket is not read again until that is gone. The loop parks
// in the runtime poller on the epoll descriptor, so a quiet loop holds no
// thread and a busy one wakes with the scheduler's latency.
//
// Measured on one 2-core amd64 machine with scripts/bench-echo.sh (load
// generator on the same machine), growth of VmRSS per idle connection at
// 10,000 connections: this server 393 bytes, the textbook
// goroutine-per-connection Go server 4,629, the seed tutorial's Python
// ThreadingTCPServer 19,119. At 500 busy connections it made 2.19 times
// the Python server's round trips per second and 1.08 times the textbook
// server's; at one connection, where the wake-up path dominates, 0.76
// times the textbook server's. An echoed message allocates nothing
// (BenchmarkTCPRoundTrip64).
//
// Elsewhere, or for a listener that is not a socket, Serve falls back to a
// goroutine per connection with the same behaviour and limits. There each
// connection has its own 4 KiB buffer and goroutine whatever its peer
// does (MaxConns and MaxConnsPerSource bound them); the reply it is writing
// counts toward MaxPending from the start of the write to its end, in a
// heap shared under a lock, and a write is bounded by IdleTimeout.
//
// # What peers can make it hold
//
// Connections: MaxConns in all, MaxConnsPerSource from one source (an
// IPv4 address, an IPv6 /64), refused at accept. Replies a peer does not
// read: up to ReadSize (32 KiB) per connection, in pooled buffers of 1 to
// 32 KiB, and MaxPending (16 MiB) over all connections; past it the loop
// that crossed it closes its own largest holder, found at the top of a
// heap (hold.go), so the total passes the cap by at most one read per loop
// and only for as long as that loop takes to close. Kernel buffers: each
// socket's are fixed at SocketBuffer (32 KiB) each way, where Linux would
// grow a send buffer to 4 MiB for a peer that does not read. A connection
// nothing was read from for IdleTimeout is closed, a holder too: it is
// not read until the peer takes its reply. Measured with the
// built agent (agent/cmd/edge-agent TestEchoHeldRepliesCapBoundsRSS):
// 3,000 connections from one host, per-source cap lifted, each sending
// without reading, grew VmRSS by 14 MiB with 16 MiB held in 1,024 of them
// and 1,976 closed; without the held cap they held 47 MiB and grew it by
// 38 MiB. With the default per-source cap, 300 such connections get 64
// places and grew it by 1.3 MiB.
//
// UDP datagrams are read whole (up to 65,507 bytes over IPv4) and answered
// with one datagram each, subject to a udpguard.Guard: no replies to
// service source ports, a rate per source.
package echo
