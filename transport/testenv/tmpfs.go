//go:build linux

package testenv

import (
	"testing"

	"golang.org/x/sys/unix"
)

// Tmpfs mounts a tmpfs of size (as mount's size=: "4k", "1m") on a
// directory of the test's own, mode 0700, and unmounts it when the test
// ends: a small file system that fills up, standing in for a full SD
// card. Without the privilege to mount (not root) it skips, or fails
// under CI=true. It is Linux's alone, so that the rest of testenv still
// builds elsewhere.
func Tmpfs(t testing.TB, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		msg := "cannot mount a tmpfs of " + size + " here (needs root): " + err.Error()
		if InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// Registered after TempDir's removal, so it runs before it.
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}
