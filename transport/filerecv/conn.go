package filerecv

import (
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"edge-agent/transport/peer"
)

// chunk is how much body is read under one deadline. The idle timeout is
// enforced per chunk, so a sender must move at least chunk bytes per
// IdleTimeout (4 KiB/s with the defaults) while splice still moves a
// quarter megabyte per system call.
const chunk = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, chunk); return &b }}

// Reply frames, sent only to a sender that asked for them with "ack".
type (
	readyReply struct {
		Status string `json:"status"` // "ready"
		Offset int64  `json:"offset"` // bytes the server holds; send the rest
	}
	okReply struct {
		Status      string `json:"status"` // "ok"
		FileName    string `json:"file_name"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
		ResumedFrom int64  `json:"resumed_from,omitempty"`
		DurationMS  int64  `json:"duration_ms"`
	}
	errorReply struct {
		Status  string `json:"status"` // "error"
		Code    Code   `json:"code"`
		Message string `json:"message"`
	}
)

// handle serves one connection from src: any number of files in a row.
func (s *Server) handle(c net.Conn, src peer.Key) {
	for {
		h, ok := s.readHeader(c)
		if !ok {
			return
		}
		if !s.receiveFile(c, src, h) {
			return
		}
	}
}

// readHeader reads the length prefix and the JSON header. A bad header
// loses the framing, so the connection ends; a sender that asked for
// acknowledgements hears why first.
func (s *Server) readHeader(c net.Conn) (Header, bool) {
	c.SetReadDeadline(time.Now().Add(orDefault(s.HeaderTimeout, DefaultHeaderTimeout)))
	var lb [4]byte
	if n, err := io.ReadFull(c, lb[:]); err != nil {
		if n > 0 || !errors.Is(err, io.EOF) {
			s.stats.reject(cutCode(err, CodeBadHeader))
		}
		return Header{}, false
	}
	n, _, err := HeaderLength(lb)
	if err != nil {
		s.stats.reject(CodeBadHeader)
		return Header{}, false
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(c, hb); err != nil {
		s.stats.reject(cutCode(err, CodeBadHeader))
		return Header{}, false
	}
	h, err := ParseHeader(hb)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = errorf(CodeBadHeader, "%v", err)
		}
		s.stats.reject(e.Code)
		var probe struct {
			Ack bool `json:"ack"`
		}
		if json.Unmarshal(hb, &probe) == nil && probe.Ack {
			s.reply(c, errorReply{"error", e.Code, e.Message})
		}
		return Header{}, false
	}
	return h, true
}

// cutCode tells a timeout from a connection that ended early.
func cutCode(err error, cut Code) Code {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return CodeTimeout
	}
	return cut
}

// receiveFile takes one file after its header and reports whether the
// connection can carry another.
func (s *Server) receiveFile(c net.Conn, src peer.Key, h Header) bool {
	start := time.Now()
	rec, e, framed := s.takeFile(c, src, h)
	if e != nil {
		s.stats.reject(e.Code)
		switch {
		case e.Code == CodeTokenLockout:
			return false
		case e.Code == CodeBadToken && s.tokenLockout().Locked(src):
			// This wrong token began a lockout: say so once, then
			// end the connection, as the source's next ones will be.
			if h.Ack {
				s.reply(c, errorReply{"error", e.Code, e.Message})
			}
			return false
		case h.Ack && framed:
			return s.reply(c, errorReply{"error", e.Code, e.Message})
		case h.Ack && e.Code == CodeNoSpace:
			// The disk filled in the middle of the body, whose rest is
			// still coming: say why, then linger so that the sender,
			// still writing, does not get a reset instead of the reason.
			if s.reply(c, errorReply{"error", e.Code, e.Message}) {
				s.linger(c)
			}
		}
		return framed
	}
	rec.Duration = time.Since(start)
	s.stats.files.Add(1)
	if rec.ResumedFrom > 0 {
		s.stats.resumed.Add(1)
	}
	s.logger().Info("file received", "name", rec.Name, "size", rec.Size, "sha256", rec.SHA256, "peer", rec.Peer, "duration", rec.Duration)
	if s.OnFile != nil {
		s.OnFile(rec)
	}
	if h.Ack {
		return s.reply(c, okReply{"ok", rec.Name, rec.Size, rec.SHA256, rec.ResumedFrom, rec.Duration.Milliseconds()})
	}
	return true
}

// takeFile stores one file. The name is held for the upload alone and is
// free again before the sender hears the outcome, so its next upload of
// the same name is not refused as busy. framed reports whether the
// connection is still in step: a refusal before the body (the sender
// waits for "ready") or a checksum mismatch after all of it.
func (s *Server) takeFile(c net.Conn, src peer.Key, h Header) (rec Received, e *Error, framed bool) {
	if e := s.admitFile(src, h); e != nil {
		return rec, e, h.Ack
	}
	defer s.unclaim(h.FileName)
	up, err := s.Store.begin(h)
	if err != nil {
		return rec, storeError(err), h.Ack
	}
	// Every upload, new or resumed, has what it still needs reserved
	// before it is told to send.
	if err := s.Store.reserve(up, h.FileSize-up.held, s.MinFree); err != nil {
		up.abort(true)
		return rec, storeError(err), h.Ack
	}
	if h.Ack && !s.reply(c, readyReply{"ready", up.held}) {
		up.abort(true)
		return rec, errorf(CodeIO, "the sender went away"), false
	}
	sum, e := s.copyBody(c, up, h)
	if e != nil {
		return rec, e, false
	}
	want := h.SHA256
	if h.SHA256Follows {
		if want, e = s.readTrailer(c); e != nil {
			up.abort(false)
			// A malformed checksum came in a whole frame: still in step.
			return rec, e, e.Code == CodeBadChecksum
		}
	}
	if want != nil && subtle.ConstantTimeCompare(sum, want) != 1 {
		// A resumed upload that does not verify may have started from
		// a bad partial (cut, corrupted or planted): it goes with the
		// rest, so the sender's next attempt starts from byte 0.
		up.abort(false)
		if up.held > 0 {
			s.stats.partialsDiscarded.Add(1)
		}
		return rec, errorf(CodeChecksumMismatch, "received data has sha256 %x, sender says %x", sum, want), true
	}
	warn, err := up.commit(h.FileName)
	if err != nil {
		return rec, storeError(err), true
	}
	if warn != nil {
		// The rename is done and readers see the new file: this is a
		// success, though a power cut before the directory reaches the
		// disk could still bring back the previous version.
		s.stats.dirSyncFailed.Add(1)
		s.logger().Warn("file published, but syncing the directory failed", "name", h.FileName, "err", warn)
	}
	return Received{
		Name: h.FileName, Size: h.FileSize, SHA256: hex.EncodeToString(sum),
		Peer: c.RemoteAddr().String(), ResumedFrom: up.held, Verified: want != nil,
	}, nil, true
}

// admitFile applies the checks that need no file: the token first, so a
// sender without it learns nothing else, then name and size.
func (s *Server) admitFile(src peer.Key, h Header) *Error {
	if s.Token != "" {
		l := s.tokenLockout()
		if l.Locked(src) {
			return errorf(CodeTokenLockout, "too many wrong tokens from %s", src)
		}
		if !tokenOK(h.Token, s.Token) {
			if d := l.Fail(src); d > 0 {
				s.stats.lockouts.Add(1)
				s.logger().Warn("upload source locked out after wrong tokens", "source", src.String(), "for", d)
			}
			return errorf(CodeBadToken, "a valid token is required")
		}
		l.Forgive(src)
	}
	if err := ValidName(h.FileName); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return errorf(CodeBadName, "%v", err)
	}
	if h.FileSize > s.maxSize() {
		return errorf(CodeTooLarge, "file_size %d is over the limit of %d bytes", h.FileSize, s.maxSize())
	}
	if !s.claim(h.FileName) {
		return errorf(CodeBusy, "%q is being uploaded on another connection", h.FileName)
	}
	return nil
}

// copyBody moves the rest of the body into the upload and returns its
// SHA-256 over the whole file (the part held from an earlier attempt
// included). The bytes go from the socket to the file inside the kernel
// (splice); the checksum is computed alongside, from the page cache.
func (s *Server) copyBody(c net.Conn, up *upload, h Header) ([]byte, *Error) {
	th := startHash(up.f)
	idle := orDefault(s.IdleTimeout, DefaultIdleTimeout)
	for left := h.FileSize - up.held; left > 0; {
		c.SetReadDeadline(time.Now().Add(idle))
		got, err := io.CopyN(up.f, c, min(left, chunk))
		left -= got
		up.wrote(got)
		s.stats.bytes.Add(uint64(got))
		if err != nil {
			th.stop()
			if isNoSpace(err) {
				up.abort(false)
				return nil, errorf(CodeNoSpace, "the file system filled up")
			}
			// Keep what came for a resumable upload to continue.
			up.abort(true)
			return nil, errorf(cutCode(err, CodeIO), "body stopped after %d of %d bytes: %v", h.FileSize-left, h.FileSize, err)
		}
		th.advance(h.FileSize - left)
	}
	sum, err := th.finish(h.FileSize)
	if err != nil {
		up.abort(false)
		return nil, storeError(err)
	}
	return sum, nil
}

// readTrailer reads the {"sha256": ...} frame that follows the body of a
// sha256_follows upload.
func (s *Server) readTrailer(c net.Conn) ([]byte, *Error) {
	c.SetReadDeadline(time.Now().Add(orDefault(s.HeaderTimeout, DefaultHeaderTimeout)))
	var tr struct {
		SHA256 json.RawMessage `json:"sha256"`
	}
	if err := ReadFrame(c, &tr); err != nil {
		return nil, errorf(cutCode(err, CodeBadHeader), "reading the checksum after the body: %v", err)
	}
	if len(tr.SHA256) == 0 {
		return nil, errorf(CodeBadChecksum, "the frame after the body has no sha256")
	}
	sum, err := parseSHA256(tr.SHA256)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, errorf(CodeBadChecksum, "%v", err)
	}
	return sum, nil
}

// linger half-closes c and drops what the peer still sends, up to the
// largest file and under the idle deadline, before the connection closes.
func (s *Server) linger(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	idle := orDefault(s.IdleTimeout, DefaultIdleTimeout)
	for budget := s.maxSize(); budget > 0; {
		c.SetReadDeadline(time.Now().Add(idle))
		n, err := io.CopyN(io.Discard, c, min(budget, chunk))
		budget -= n
		if err != nil {
			return
		}
	}
}

func storeError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, errHeld) {
		return errorf(CodeBusy, "the upload's file is held by another connection")
	}
	if isNoSpace(err) {
		return errorf(CodeNoSpace, "the file system is full")
	}
	return errorf(CodeIO, "storing the file: %v", err)
}

// reply sends one acknowledgement frame and reports whether it went out.
func (s *Server) reply(c net.Conn, v any) bool {
	b, err := AppendFrame(nil, v)
	if err != nil {
		return false
	}
	c.SetWriteDeadline(time.Now().Add(orDefault(s.IdleTimeout, DefaultIdleTimeout)))
	_, err = c.Write(b)
	return err == nil
}
