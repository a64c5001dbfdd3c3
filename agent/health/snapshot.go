package health

import "time"

// Snapshot is the device's health at one moment, as published in the
// retained MQTT state message. Units are in the JSON names so a Home
// Assistant template needs no documentation. A field whose source the
// device lacks, or could not be read, is zero, or left out when its
// absence means something different from zero (no thermal sensor is not
// 0 °C).
type Snapshot struct {
	Hostname      string    `json:"hostname"`
	UptimeSeconds float64   `json:"uptime_s"`
	BootTime      time.Time `json:"boot_time"`

	Load1  float64 `json:"load_1"`
	Load5  float64 `json:"load_5"`
	Load15 float64 `json:"load_15"`

	CPUTempC *float64 `json:"cpu_temp_c,omitempty"`

	MemTotalBytes     uint64  `json:"mem_total_bytes"`
	MemAvailableBytes uint64  `json:"mem_available_bytes"`
	MemUsedPercent    float64 `json:"mem_used_percent"`
	SwapTotalBytes    uint64  `json:"swap_total_bytes"`
	SwapFreeBytes     uint64  `json:"swap_free_bytes"`

	Disk *DiskUsage `json:"disk,omitempty"`

	// Network is never null in JSON, so a consumer can index it without
	// a check.
	Network []Interface `json:"network"`

	Throttled *Throttled `json:"throttled,omitempty"`

	Clock ClockSync `json:"clock"`

	CPUModel string `json:"cpu_model,omitempty"`
	Board    string `json:"board,omitempty"`
}
