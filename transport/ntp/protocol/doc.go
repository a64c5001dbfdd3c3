// Package protocol is the NTP packet codec (RFC 5905 section 7.3), apart
// from any I/O so it can be tested and fuzzed on its own. Only the 48-byte
// header is read and written; extension fields and MACs that follow it are
// ignored, as an SNTP server may.
package protocol
