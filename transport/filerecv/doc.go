// Package filerecv is the agent's framed file receiver (seed 003) and its
// sending client.
//
// On the wire, per file and any number of files on one connection: a
// 4-byte header length (the seed's struct.pack('i'), little-endian; a
// big-endian length is read as such when it is the only plausible one),
// a JSON header {"file_name": ..., "file_size": N}, and N bytes. The seed's
// client works unchanged and never receives a byte. Opt-in header keys add
// a checksum (sha256, or sha256_follows for one sent after the body),
// acknowledgements (ack: a "ready" frame before the body and a result
// after it), resumption of an interrupted upload (resume), and a shared
// secret (token); README.md gives the schema with a byte-level example.
//
// The receiver trusts nothing it is sent. Names are validated, never
// cleaned (ValidName). Every path goes through an os.Root. A file is
// written to a temporary name, synced, checked, renamed and its directory
// synced, so a reader never sees a partial file under its final name and a
// failed upload leaves any previous version intact (a failed directory
// sync after the rename is a published file, counted as a warning). The
// token is checked first, as SHA-256 digests in constant time; a
// source's (peer.Key) third wrong token in a row locks it out, and each
// further one for twice as long as the lockout before (peer.Lockout with
// the numbers in lockout.go). Header and file size, the disk space the
// upload still needs (reserved in a ledger and preallocated where the file
// system can, so concurrent uploads never count the same free bytes),
// connections in all and per source, and a deadline for the header and
// for each stretch of body are checked before a byte is written. The body
// moves from socket to file inside the kernel (splice) while its SHA-256
// is computed beside it, from the page cache.
//
// Interrupted resumable uploads are kept as partial files, aged on the
// monotonic clock in memory and expired only when no upload holds them; a
// resumed upload that fails to verify drops its partial, and Sender then
// starts once more from byte 0.
package filerecv
