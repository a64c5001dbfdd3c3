package filerecv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"
)

// SendOptions says how Sender sends files.
type SendOptions struct {
	// Legacy sends the bare seed framing: no checksum, no acknowledgement,
	// so the result of each file is unknown.
	Legacy bool
	// Resume continues an interrupted upload of the same file (same name,
	// size and SHA-256) where the server left it. If the whole file then
	// fails to verify, the part the server held was bad (and the server
	// has dropped it): the file is sent once more from byte 0.
	Resume bool
	// Token is the server's shared secret, if it has one.
	Token string
	// Progress, if set, is called as the body goes out with the bytes
	// done, counting those the server already held, and the total.
	Progress func(done, total int64)
}

// Sent is the server's acknowledgement of one file.
type Sent struct {
	Name        string
	Size        int64
	SHA256      string
	ResumedFrom int64
}

// Sender sends files on one connection, as the seed client does.
type Sender struct {
	conn net.Conn
	opts SendOptions
}

// Dial connects to a receiver.
func Dial(ctx context.Context, addr string, opts SendOptions) (*Sender, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("filerecv: %w", err)
	}
	return &Sender{conn: c, opts: opts}, nil
}

// SetProgress replaces the progress callback for the next files.
func (s *Sender) SetProgress(f func(done, total int64)) { s.opts.Progress = f }

// Close ends the connection.
func (s *Sender) Close() error { return s.conn.Close() }

// ReplyError is the server's refusal of a file.
type ReplyError struct {
	Code    Code
	Message string
}

func (e *ReplyError) Error() string { return fmt.Sprintf("server refused: %s: %s", e.Code, e.Message) }

// Send uploads the file at path under name (its base name if empty) and,
// unless Legacy, waits for the server to confirm it stored and verified
// the file. A *ReplyError carries the server's reason; after one the
// connection can carry the next file, after any other error it cannot.
func (s *Sender) Send(ctx context.Context, path, name string) (Sent, error) {
	sent, offset, err := s.send(ctx, path, name)
	var re *ReplyError
	if s.opts.Resume && offset > 0 && errors.As(err, &re) && re.Code == CodeChecksumMismatch {
		// What the server held was not a prefix of this file; it has
		// discarded it, so this attempt starts from byte 0.
		sent, _, err = s.send(ctx, path, name)
	}
	return sent, err
}

// send makes one attempt and returns the offset the server resumed from.
func (s *Sender) send(ctx context.Context, path, name string) (_ Sent, offset int64, _ error) {
	stop := context.AfterFunc(ctx, func() { s.conn.SetDeadline(time.Now()) })
	defer stop()
	if name == "" {
		name = filepath.Base(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return Sent{}, offset, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Sent{}, offset, err
	}
	if !info.Mode().IsRegular() {
		return Sent{}, offset, fmt.Errorf("%s is not a regular file", path)
	}
	h := Header{FileName: name, FileSize: info.Size(), Token: s.opts.Token}
	switch {
	case s.opts.Resume:
		// The checksum names the upload to resume, so it comes first.
		sum := sha256.New()
		if _, err := io.Copy(sum, f); err != nil {
			return Sent{}, offset, err
		}
		h.SHA256, h.Ack, h.Resume = sum.Sum(nil), true, true
	case !s.opts.Legacy:
		// The checksum follows the body, hashed while it is sent.
		h.SHA256Follows, h.Ack = true, true
	}
	if err := WriteHeader(s.conn, h, false); err != nil {
		return Sent{}, offset, s.wrap(ctx, err)
	}
	if h.Ack {
		var ready struct {
			Status  string `json:"status"`
			Offset  int64  `json:"offset"`
			Code    Code   `json:"code"`
			Message string `json:"message"`
		}
		if err := ReadFrame(s.conn, &ready); err != nil {
			return Sent{}, offset, s.wrap(ctx, err)
		}
		if ready.Status != "ready" {
			return Sent{}, offset, &ReplyError{Code: ready.Code, Message: ready.Message}
		}
		if ready.Offset < 0 || ready.Offset > h.FileSize {
			return Sent{}, offset, fmt.Errorf("filerecv: server holds %d bytes of a %d-byte file", ready.Offset, h.FileSize)
		}
		offset = ready.Offset
	}
	var th *trailingHash
	if h.SHA256Follows {
		th = startHash(f)
	}
	if err := s.body(f, offset, h.FileSize, th); err != nil {
		if th != nil {
			th.stop()
		}
		return Sent{}, offset, s.wrap(ctx, err)
	}
	if !h.Ack {
		return Sent{Name: name, Size: h.FileSize}, offset, nil
	}
	if th != nil {
		sum, err := th.finish(h.FileSize)
		if err != nil {
			return Sent{}, offset, err
		}
		h.SHA256 = sum
		trailer, _ := AppendFrame(nil, map[string]string{"sha256": hex.EncodeToString(sum)})
		if _, err := s.conn.Write(trailer); err != nil {
			return Sent{}, offset, s.wrap(ctx, err)
		}
	}
	var res struct {
		Status      string `json:"status"`
		FileName    string `json:"file_name"`
		Size        int64  `json:"size"`
		SHA256      string `json:"sha256"`
		ResumedFrom int64  `json:"resumed_from"`
		Code        Code   `json:"code"`
		Message     string `json:"message"`
	}
	if err := ReadFrame(s.conn, &res); err != nil {
		return Sent{}, offset, s.wrap(ctx, err)
	}
	if res.Status != "ok" {
		return Sent{}, offset, &ReplyError{Code: res.Code, Message: res.Message}
	}
	if res.Size != h.FileSize || res.SHA256 != hex.EncodeToString(h.SHA256) {
		return Sent{}, offset, fmt.Errorf("filerecv: server confirmed %d bytes with sha256 %s, sent %d with %x", res.Size, res.SHA256, h.FileSize, h.SHA256)
	}
	return Sent{Name: res.FileName, Size: res.Size, SHA256: res.SHA256, ResumedFrom: res.ResumedFrom}, offset, nil
}

// body sends the file from offset in steps, so progress can be told (and
// the checksum th, if any, can follow) while each step still goes out with
// sendfile.
func (s *Sender) body(f *os.File, offset, size int64, th *trailingHash) error {
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return err
	}
	const step = 4 << 20
	done := offset
	for done < size {
		n, err := io.CopyN(s.conn, f, min(step, size-done))
		done += n
		if th != nil {
			th.advance(done)
		}
		if s.opts.Progress != nil {
			s.opts.Progress(done, size)
		}
		if err != nil {
			return err
		}
	}
	if s.opts.Progress != nil && size == 0 {
		s.opts.Progress(0, 0)
	}
	return nil
}

func (s *Sender) wrap(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("filerecv: %w", ctx.Err())
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("filerecv: the server closed the connection: %w", err)
	}
	return fmt.Errorf("filerecv: %w", err)
}
