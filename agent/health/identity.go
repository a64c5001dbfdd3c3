package health

import (
	"bytes"
	"os"
	"path/filepath"
	"unicode"
)

// parseCPUModel reads /proc/cpuinfo: the "Model" line Raspberry Pi
// kernels add, else the first "model name" (x86, and 32-bit Arm, where it
// names only the core: "ARMv7 Processor rev 3 (v7l)").
func parseCPUModel(b []byte) string {
	var modelName string
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		// Keys are padded with tabs to line the colons up.
		switch string(bytes.TrimSpace(key)) {
		case "Model":
			if v := cleanText(val); v != "" {
				return v
			}
		case "model name":
			if modelName == "" {
				modelName = cleanText(val)
			}
		}
	}
	return modelName
}

// boardModel reads the device tree's model ("Raspberry Pi 4 Model B Rev
// 1.4"), which the kernel stores NUL-terminated; "" on boards without a
// device tree, such as PCs.
func boardModel(proc, sys string) string {
	for _, p := range []string{
		filepath.Join(proc, "device-tree/model"),
		filepath.Join(sys, "firmware/devicetree/base/model"),
	} {
		if b, err := os.ReadFile(p); err == nil {
			if v := cleanText(b); v != "" {
				return v
			}
		}
	}
	return ""
}

// cleanText keeps the first line of a value read from the kernel, up to
// any NUL (the device tree ends its strings with one), without control
// characters or surrounding white space, so a malformed file cannot put
// escape sequences into the state message or onto the serial console.
func cleanText(b []byte) string {
	if i := bytes.IndexAny(b, "\x00\n"); i >= 0 {
		b = b[:i]
	}
	b = bytes.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, b)
	return string(bytes.TrimSpace(b))
}
