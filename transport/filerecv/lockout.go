package filerecv

import (
	"crypto/sha256"
	"crypto/subtle"
	"time"

	"edge-agent/transport/peer"
)

// Token guessing is made slow per source (peer.Key: an IPv4 address or an
// IPv6 /64): the lockoutAfter-th wrong token in a row locks the source
// out for lockoutFirst, and each wrong token after it for twice as long
// as the lockout before, up to lockoutMax. A locked-out source's
// connections are closed at once, so it gets one guess per lockout. A
// right token, or lockoutForget without a wrong one, wipes the source's
// record. The table keeps at most lockoutSources sources, dropping the
// one whose last wrong token is oldest, so a peer with many addresses
// costs a bounded amount of memory.
const (
	lockoutAfter   = 3
	lockoutFirst   = time.Second
	lockoutMax     = 5 * time.Minute
	lockoutForget  = 15 * time.Minute
	lockoutSources = 1024
)

// tokenOK compares the digests of the two tokens, which have a fixed size,
// so neither the time taken nor an early exit tells a guesser the length.
func tokenOK(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// tokenLockout returns the server's lockout table with the numbers above;
// a test may have set its clock (lockout.Now) before Serve.
func (s *Server) tokenLockout() *peer.Lockout {
	s.lockoutOnce.Do(func() {
		l := &s.lockout
		l.Threshold, l.First, l.Max, l.Forget, l.Sources = lockoutAfter, lockoutFirst, lockoutMax, lockoutForget, lockoutSources
	})
	return &s.lockout
}
