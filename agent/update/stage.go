package update

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"edge-agent/agent/authz"
)

// stageCheck is what a staged binary must pass.
type stageCheck struct {
	// want and signed: a candidate (Install). With want nil, the size
	// is only bounded and nothing is compared (Bootstrap).
	want   *Candidate
	signed authz.Signed
	// reported, when set, receives what the binary's "version" said.
	reported *VersionInfo
}

// stage writes src into slot through a temporary file and checks it in
// this order: size, SHA-256, signature, build target (all before the
// file is executable), then its "version" run; only a binary that passed
// replaces slot. It returns the binary's SHA-256 in hex.
func (s *Store) stage(ctx context.Context, src io.Reader, slot Slot, c stageCheck) (sum string, err error) {
	f, err := os.CreateTemp(s.l.dir, "."+string(slot)+tempMark+"*")
	if err != nil {
		return "", refuseErr(IO, err, "cannot create a file in %s", s.l.dir)
	}
	tmp := f.Name()
	defer func() {
		f.Close()
		if err != nil && !errors.Is(err, errCrash) {
			os.Remove(tmp)
		}
	}()
	if err := s.l.step(); err != nil {
		return "", err
	}
	digest, err := s.fill(ctx, f, src, c.want)
	if err != nil {
		return "", err
	}
	if err := s.l.step(); err != nil {
		return "", err
	}
	sum = hex.EncodeToString(digest)
	target := s.opt.Target
	if c.want != nil {
		if wantSum, _ := decodeSHA256(c.want.SHA256); string(wantSum) != string(digest) {
			return "", refuse(Checksum, "the body's SHA-256 is %s, the announcement says %s: the download is damaged or not the announced file", sum, c.want.SHA256)
		}
		if err := verifySignature(f, c.signed); err != nil {
			return "", err
		}
	}
	if err := checkBuild(f, target); err != nil {
		return "", err
	}
	if err := f.Chmod(0o700); err != nil {
		return "", refuseErr(IO, err, "cannot make %s executable", tmp)
	}
	if err := f.Sync(); err != nil {
		return "", ioRefusal(err, tmp)
	}
	if err := s.l.step(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", ioRefusal(err, tmp)
	}
	v, err := runVersion(ctx, tmp, s.opt.VersionTimeout)
	if err != nil {
		return "", err
	}
	if c.want != nil {
		if err := checkReported(v, c.want.Version, target); err != nil {
			return "", err
		}
	} else if v.Target != target {
		return "", refuse(Architecture, "the binary reports %s, this device needs %s", v.Target, target)
	}
	if c.reported != nil {
		*c.reported = v
	}
	if err := os.Rename(tmp, s.l.path(string(slot))); err != nil {
		return "", ioRefusal(err, tmp)
	}
	if err := s.l.step(); err != nil {
		return "", err
	}
	if err := s.l.syncDir(); err != nil {
		return "", err
	}
	return sum, nil
}

// fill copies the body into f, reserving its announced size first, and
// returns its SHA-256. The body must be exactly want.Size bytes; without
// want it must be at most the Store's MaxBinarySize.
func (s *Store) fill(ctx context.Context, f *os.File, src io.Reader, want *Candidate) ([]byte, error) {
	limit := s.opt.MaxBinarySize
	if want != nil {
		limit = want.Size
		if !s.noPrealloc {
			err := unix.Fallocate(int(f.Fd()), 0, 0, want.Size)
			if err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
				return nil, ioRefusal(err, f.Name())
			}
		}
	}
	h := sha256.New()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("update: %w", err)
		}
		k, rerr := src.Read(buf)
		if int64(k) > limit-n {
			if want != nil {
				return nil, refuse(Size, "the body is over the announced %d bytes", want.Size)
			}
			return nil, refuse(Size, "the binary is over the limit of %d bytes", limit)
		}
		if k > 0 {
			if _, err := f.WriteAt(buf[:k], n); err != nil {
				return nil, ioRefusal(err, f.Name())
			}
			h.Write(buf[:k])
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, refuseErr(IO, rerr, "reading the body after %d bytes", n)
		}
	}
	if want != nil && n != want.Size {
		return nil, refuse(Size, "the body ended after %d of the announced %d bytes", n, want.Size)
	}
	if err := f.Sync(); err != nil {
		return nil, ioRefusal(err, f.Name())
	}
	return h.Sum(nil), nil
}

// ioRefusal says what a person can do about a failed write.
func ioRefusal(err error, path string) error {
	dir := filepath.Dir(path)
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return refuseErr(IO, err, "disk full: the file system of %s has no room for the binary: free space there", dir)
	case errors.Is(err, syscall.EROFS):
		return refuseErr(IO, err, "%s is read-only", dir)
	}
	return refuseErr(IO, err, "writing in %s", dir)
}

// mkdirDurable makes dir (mode 0700) if it is missing, durably.
func mkdirDurable(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil
		}
		return fmt.Errorf("update: %w", err)
	}
	d, err := os.Open(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("update: sync %s: %w", filepath.Dir(dir), err)
	}
	return nil
}
