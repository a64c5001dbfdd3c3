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
// 10,000 connections: this server 311 bytes, the textbook
// goroutine-per-connection Go server 4,657, the seed tutorial's Python
// ThreadingTCPServer 19,116. At 500 busy connections it made 2.19 times
// the Python server's round trips per second and 1.08 times the textbook
// server's; at one connection, where the wake-up path dominates, 0.76
// times the textbook server's. An echoed message allocates nothing
// (BenchmarkTCPRoundTrip64).
//
// Elsewhere, or for a listener that is not a socket, Serve falls back to a
// goroutine per connection with the same behaviour.
//
// UDP datagrams are read whole (up to 65,507 bytes over IPv4) and answered
// with one datagram each, subject to a udpguard.Guard: no replies to
// service source ports, a rate per source.
package echo
