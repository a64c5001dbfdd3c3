// Package peer names the source of a connection or datagram the way the
// agent's per-source limits count it: an IPv4 address alone, an IPv6
// address by its /64, since one host's privacy addresses rotate inside
// its /64 and each new one would otherwise get a fresh allowance.
package peer
