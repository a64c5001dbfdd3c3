package firmwarebridge

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// PortInfo is one serial port, as sysfs describes it.
type PortInfo struct {
	Path         string `json:"path"`             // /dev/ttyUSB0
	Name         string `json:"name"`             // ttyUSB0
	Driver       string `json:"driver,omitempty"` // e.g. ftdi_sio, cdc_acm, uart-pl011, serial8250: the device's driver link
	USB          bool   `json:"usb"`
	VID          string `json:"vid,omitempty"` // "2341", lower-case hex as sysfs has it
	PID          string `json:"pid,omitempty"`
	SerialNumber string `json:"serial_number,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	Interface    string `json:"interface,omitempty"` // USB interface string when present
}

// maxLevels bounds the walk from a tty's device up to its USB device: real
// trees need three or four levels, and a bound keeps an odd tree from
// walking to the root.
const maxLevels = 8

// ListPorts lists the serial ports under sysRoot (normally "/sys") with
// their device nodes under devRoot ("/dev"), sorted by name, without
// opening any device.
//
// Opening a port to probe it (as go.bug.st/serial's enumerator does for
// ttyS*) reprograms its line settings, which disturbs a getty or console
// already using it; sysfs tells enough without that.
func ListPorts(sysRoot, devRoot string) ([]PortInfo, error) {
	classDir := filepath.Join(sysRoot, "class", "tty")
	entries, err := os.ReadDir(classDir)
	if err != nil {
		return nil, fmt.Errorf("firmwarebridge: listing serial ports: %w", err)
	}
	devicesDir := filepath.Join(sysRoot, "devices")
	if resolved, err := filepath.EvalSymlinks(devicesDir); err == nil {
		devicesDir = resolved
	}
	var ports []PortInfo
	for _, e := range entries {
		name := e.Name()
		if virtualConsole(name) {
			continue
		}
		ttyDir := filepath.Join(classDir, name)
		_, err := os.Lstat(filepath.Join(ttyDir, "device"))
		hasDevice := err == nil
		// The gadget serial function has no device link, yet it is the
		// port a host talks to over a Pi Zero's USB cable.
		if !hasDevice && !strings.HasPrefix(name, "ttyGS") {
			continue
		}
		if placeholderUART(ttyDir, name) {
			continue
		}
		path := filepath.Join(devRoot, name)
		if _, err := os.Lstat(path); err != nil {
			continue
		}
		p := PortInfo{Path: path, Name: name}
		if hasDevice {
			if dev, err := filepath.EvalSymlinks(filepath.Join(ttyDir, "device")); err == nil {
				p.Driver = driverName(dev)
				describeUSB(&p, dev, devicesDir)
			}
		}
		ports = append(ports, p)
	}
	slices.SortFunc(ports, func(a, b PortInfo) int { return compareNames(a.Name, b.Name) })
	return ports, nil
}

// virtualConsole reports the names that are never serial ports, whatever
// links they carry.
func virtualConsole(name string) bool {
	switch {
	case name == "tty" || name == "console" || name == "ptmx":
		return true
	case strings.HasPrefix(name, "ttyprintk"), strings.HasPrefix(name, "vcs"):
		return true
	case len(name) > 3 && strings.HasPrefix(name, "tty") && name[3] >= '0' && name[3] <= '9':
		return true
	}
	return false
}

// placeholderUART reports an 8250 slot the kernel reserved without finding
// a UART behind it (type 0 is PORT_UNKNOWN). Without a type file the port
// is kept: dropping a real port is worse than listing an empty slot.
func placeholderUART(ttyDir, name string) bool {
	if !strings.HasPrefix(name, "ttyS") && !strings.HasPrefix(name, "ttyHS") {
		return false
	}
	b, err := os.ReadFile(filepath.Join(ttyDir, "type"))
	return err == nil && strings.TrimSpace(string(b)) == "0"
}

// driverName is the driver bound to dev, or else to its parent: a
// usb-serial tty's driver sits on the port directory, a cdc_acm one's on
// the interface above it.
func driverName(dev string) string {
	tries := 2
	for dir := dev; tries > 0; dir = filepath.Dir(dir) {
		// Since Linux 6.5 serial-core puts its own "port" and "ctrl"
		// devices between the tty and the UART; their drivers say nothing
		// about the hardware.
		if link, err := os.Readlink(filepath.Join(dir, "subsystem")); err == nil && filepath.Base(link) == "serial-base" {
			continue
		}
		tries--
		if link, err := os.Readlink(filepath.Join(dir, "driver")); err == nil {
			return filepath.Base(link)
		}
	}
	return ""
}

// describeUSB fills in the USB fields from the first ancestor of dev that
// is a USB device, leaving p alone when there is none.
func describeUSB(p *PortInfo, dev, devicesDir string) {
	ifaceDir := ""
	for dir, i := dev, 0; i < maxLevels && dir != devicesDir && dir != filepath.Dir(dir); dir, i = filepath.Dir(dir), i+1 {
		if ifaceDir == "" && exists(filepath.Join(dir, "bInterfaceNumber")) {
			ifaceDir = dir
		}
		vid, pid := readAttr(dir, "idVendor"), readAttr(dir, "idProduct")
		if vid == "" || pid == "" {
			continue
		}
		p.USB, p.VID, p.PID = true, vid, pid
		p.SerialNumber = readAttr(dir, "serial")
		p.Manufacturer = readAttr(dir, "manufacturer")
		p.Product = readAttr(dir, "product")
		if ifaceDir != "" {
			p.Interface = readAttr(ifaceDir, "interface")
		}
		return
	}
}

// readAttr is a sysfs attribute's trimmed value, "" when it is missing or
// unreadable: USB string descriptors are optional.
func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// compareNames orders ttyS2 before ttyS10, as a person reading the list
// expects.
func compareNames(a, b string) int {
	ap, an := splitNumber(a)
	bp, bn := splitNumber(b)
	if c := cmp.Compare(ap, bp); c != 0 {
		return c
	}
	if c := cmp.Compare(an, bn); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// splitNumber splits a name into its prefix and trailing number (-1 when
// there is none).
func splitNumber(name string) (string, int) {
	prefix := strings.TrimRight(name, "0123456789")
	n, err := strconv.Atoi(name[len(prefix):])
	if err != nil {
		return prefix, -1
	}
	return prefix, n
}
