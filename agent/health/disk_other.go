//go:build !linux

package health

import "errors"

// statDisk is Linux-only: the agent ships for Linux, and other systems'
// statfs structures differ.
func statDisk(path string) (DiskUsage, error) {
	return DiskUsage{}, errors.New("health: statfs: not supported on this system")
}
