//go:build linux

package ntp

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// struct mmsghdr is a msghdr and an unsigned int, padded to pointer
// alignment: 64 bytes on 64-bit Linux, 32 on 32-bit ARM.
func TestMmsghdrLayout(t *testing.T) {
	want := unsafe.Sizeof(unix.Msghdr{}) + 4
	if a := unsafe.Alignof(uintptr(0)); want%a != 0 {
		want += a - want%a
	}
	if got := unsafe.Sizeof(mmsghdr{}); got != want {
		t.Fatalf("mmsghdr is %d bytes, the kernel's struct mmsghdr %d", got, want)
	}
}
