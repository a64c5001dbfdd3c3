//go:build linux

package health

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// statDisk reports the file system holding path.
func statDisk(path string) (DiskUsage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return DiskUsage{}, fmt.Errorf("health: statfs %s: %w", path, err)
	}
	// The block counts are in fragment units, as statvfs(3) reads them;
	// the two sizes differ on few file systems, and Frsize is 0 only on
	// kernels older than 2.6.
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return diskUsage(path, bs, st.Blocks, st.Bfree, st.Bavail), nil
}
