//go:build linux

package echo

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The loops' sockets are non-blocking, so read and write return at once
// and can skip the scheduler hand-off that unix.Read and unix.Write do for
// calls that might block. On a two-core board that hand-off is a large
// share of the cost of a 64-byte echo.

func rawRead(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
