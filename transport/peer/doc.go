// Package peer names the source of a connection or datagram the way the
// agent's per-source limits count it: an IPv4 address alone, an IPv6
// address by its /64, since one host's privacy addresses rotate inside
// its /64 and each new one would otherwise get a fresh allowance.
//
// It also holds the per-source tables those limits share: Counter, what
// each source holds against a cap, and Lockout, which makes guessing a
// secret (an upload token, a broker password) slow with a doubling
// back-off per source in a table of bounded size (lockout.go).
package peer
