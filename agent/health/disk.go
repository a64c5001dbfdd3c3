package health

// DiskUsage is the space on the file system holding a directory: the file
// receiver's, whose uploads are what fills a device's card.
type DiskUsage struct {
	Path       string `json:"path"`
	TotalBytes uint64 `json:"total_bytes"`
	// FreeBytes includes the blocks reserved for root;
	// AvailableBytes is what the agent, not being root, can still use.
	FreeBytes      uint64  `json:"free_bytes"`
	AvailableBytes uint64  `json:"available_bytes"`
	UsedPercent    float64 `json:"used_percent"`
}

// diskUsage turns statfs block counts into bytes. UsedPercent is counted
// as df(1) does, against the space an unprivileged user can have (used +
// available), so 100% means the agent can write no more even though root
// still could.
func diskUsage(path string, blockSize, blocks, free, avail uint64) DiskUsage {
	free = min(free, blocks)
	avail = min(avail, free)
	d := DiskUsage{
		Path:           path,
		TotalBytes:     mulSaturating(blocks, blockSize),
		FreeBytes:      mulSaturating(free, blockSize),
		AvailableBytes: mulSaturating(avail, blockSize),
	}
	used := blocks - free
	if used+avail > 0 {
		d.UsedPercent = round1(float64(used) / float64(used+avail) * 100)
	}
	return d
}

func mulSaturating(a, b uint64) uint64 {
	if a != 0 && b > ^uint64(0)/a {
		return ^uint64(0)
	}
	return a * b
}
