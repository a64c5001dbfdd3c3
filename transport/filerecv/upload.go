package filerecv

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// upload is one file being received.
type upload struct {
	s         *Store
	f         *os.File
	tmp       string
	held      int64 // bytes already present from an earlier attempt
	resumable bool
	ledger    int64 // the part of Store.reserved this upload holds
}

// partialName is where a resumable upload of h is kept: derived from the
// name, size and checksum, so that only the same file resumes it.
func partialName(h Header) string {
	sum := sha256.New()
	io.WriteString(sum, h.FileName)
	binary.Write(sum, binary.BigEndian, h.FileSize)
	sum.Write(h.SHA256)
	return partialPrefix + hex.EncodeToString(sum.Sum(nil)[:16])
}

// errHeld is returned by begin when another upload holds the file.
var errHeld = errors.New("filerecv: the file is held by another upload")

// begin opens the temporary file for h and marks it held, so expiry leaves
// it alone. For a resumable upload it reopens what an earlier attempt left
// and reports how much of it there is: the file's size, which is what was
// received, since preallocation keeps the size (FALLOC_FL_KEEP_SIZE).
func (s *Store) begin(h Header) (*upload, error) {
	u := &upload{s: s, resumable: h.Resume}
	if h.Resume {
		u.tmp = partialName(h)
	} else {
		var rnd [12]byte
		rand.Read(rnd[:])
		u.tmp = tmpPrefix + hex.EncodeToString(rnd[:])
	}
	s.mu.Lock()
	if s.open[u.tmp] {
		s.mu.Unlock()
		return nil, errHeld
	}
	s.open[u.tmp] = true
	s.mu.Unlock()
	if err := u.open(h); err != nil {
		u.release(false)
		return nil, err
	}
	return u, nil
}

func (u *upload) open(h Header) error {
	if !h.Resume {
		// Read and write: the checksum is computed by reading back what was written.
		f, err := u.s.root.OpenFile(u.tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
		u.f = f
		return err
	}
	f, err := u.s.root.OpenFile(u.tmp, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("partial upload %s is not a regular file", u.tmp)
	}
	u.f, u.held = f, info.Size()
	if u.held > h.FileSize {
		// Not a prefix of this file: start again.
		if err := f.Truncate(0); err != nil {
			f.Close()
			return err
		}
		u.held = 0
	}
	if _, err := f.Seek(u.held, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	return nil
}

// wrote tells the store that n more bytes are on the file system, so they
// no longer need to be counted as promised.
func (u *upload) wrote(n int64) {
	if u.ledger == 0 {
		return
	}
	d := min(n, u.ledger)
	u.ledger -= d
	u.s.mu.Lock()
	u.s.reserved -= d
	u.s.mu.Unlock()
}

// commit makes the upload durable under name, replacing any previous
// version in one step. err means nothing was published and the previous
// version is intact. warn means the file was published but the directory
// could not be synced: the rename is done, but a power cut may still undo
// it.
func (u *upload) commit(name string) (warn, err error) {
	err = u.f.Sync()
	if cerr := u.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = u.s.root.Rename(u.tmp, name)
	}
	if err != nil {
		u.s.root.Remove(u.tmp)
		u.release(false)
		return nil, err
	}
	u.release(false)
	return u.s.syncDir(), nil
}

// abort drops the upload. keep leaves a resumable upload's partial file,
// if it holds anything, for the sender to continue; its preallocated
// space beyond what was received is given back.
func (u *upload) abort(keep bool) {
	keep = keep && u.resumable
	if keep {
		info, err := u.f.Stat()
		keep = err == nil && info.Size() > 0
		if keep {
			trimTail(u.f, info.Size())
		}
	}
	u.f.Close()
	if !keep {
		u.s.root.Remove(u.tmp)
	}
	u.release(keep)
}

// release ends the hold on the file and gives back the upload's part of
// the ledger. kept records the partial's last write as now.
func (u *upload) release(kept bool) {
	s := u.s
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.open, u.tmp)
	if kept {
		s.written[u.tmp] = s.now()
	} else {
		delete(s.written, u.tmp)
	}
	s.reserved -= u.ledger
	u.ledger = 0
}

// reserve admits an upload that needs need more bytes: the free space,
// less what is promised to other uploads and less minFree, must cover it.
// It runs under the store's lock, so two uploads can never both count the
// same free bytes. Where the file system can, the bytes are preallocated
// past the received part (the size is kept, so a partial's size stays the
// count of bytes received); elsewhere the ledger alone holds them.
func (s *Store) reserve(u *upload, need, minFree int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	free, err := s.Free()
	if err != nil {
		return err
	}
	if avail := free - s.reserved - minFree; avail < need {
		return errorf(CodeNoSpace, "%d bytes free, %d promised to uploads in progress, %d to keep free: the file needs %d more", free, s.reserved, minFree, need)
	}
	if need == 0 {
		return nil
	}
	switch err := s.allocate(u.f, u.held, need); {
	case err == nil:
	case isNoSpace(err):
		trimTail(u.f, u.held)
		return errorf(CodeNoSpace, "the file system cannot hold %d more bytes", need)
	default:
		// No preallocation here (EOPNOTSUPP on vfat and others): the
		// ledger alone keeps the bytes for this upload.
		s.reserved += need
		u.ledger = need
	}
	return nil
}

// preallocate holds n bytes of disk from off without changing the size.
func preallocate(f *os.File, off, n int64) error {
	return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
}

// trimTail gives back the space allocated past size (the rest of a
// preallocation). Punching a hole there works on ext4, tmpfs, xfs and
// btrfs; truncating to the same size also frees it on ext4.
func trimTail(f *os.File, size int64) {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return
	}
	if end := st.Blocks * 512; end > size {
		unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, size, end-size+int64(st.Blksize))
	}
	f.Truncate(size)
}

// isNoSpace reports whether err means the file system is full.
func isNoSpace(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}
