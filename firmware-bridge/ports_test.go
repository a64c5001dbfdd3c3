package firmwarebridge

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fakeSys builds sysfs-like trees: real directories, files and relative
// symlinks, as the kernel lays them out.
type fakeSys struct {
	t    *testing.T
	root string
}

func (f fakeSys) file(rel, content string) {
	f.t.Helper()
	path := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f fakeSys) dir(rel string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Join(f.root, rel), 0o755); err != nil {
		f.t.Fatal(err)
	}
}

// link makes rel a symlink whose text is target, taken literally.
func (f fakeSys) link(rel, target string) {
	f.t.Helper()
	path := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		f.t.Fatal(err)
	}
}

// linkTo makes rel a relative symlink to the tree's to, creating to as a
// directory first.
func (f fakeSys) linkTo(rel, to string) {
	f.t.Helper()
	f.dir(to)
	target, err := filepath.Rel(filepath.Dir(filepath.Join(f.root, rel)), filepath.Join(f.root, to))
	if err != nil {
		f.t.Fatal(err)
	}
	f.link(rel, target)
}

// tty registers a tty device directory under class/tty, with a device link
// when device is not "".
func (f fakeSys) tty(ttyDir, device string) {
	f.t.Helper()
	f.file(ttyDir+"/dev", "188:0\n")
	if device != "" {
		f.link(ttyDir+"/device", device)
	}
	f.linkTo("class/tty/"+filepath.Base(ttyDir), ttyDir)
}

// usbDevice writes a USB device directory's attributes; "" leaves one out.
func (f fakeSys) usbDevice(dir, vid, pid, serial, manufacturer, product string) {
	f.t.Helper()
	for name, v := range map[string]string{"idVendor": vid, "idProduct": pid, "serial": serial, "manufacturer": manufacturer, "product": product} {
		if v != "" {
			f.file(dir+"/"+name, v+"\n")
		}
	}
}

func TestListPorts(t *testing.T) {
	sys := fakeSys{t, filepath.Join(t.TempDir(), "sys")}
	devRoot := t.TempDir()

	// FTDI adapter: usb-serial puts a port directory between the interface
	// and the tty, and the driver link on it.
	usb := "devices/pci0000:00/0000:00:14.0/usb1"
	sys.usbDevice(usb+"/1-1", "0403", "6001", "A50285BI", "FTDI", "FT232R USB UART")
	sys.file(usb+"/1-1/1-1:1.0/bInterfaceNumber", "00\n")
	sys.linkTo(usb+"/1-1/1-1:1.0/driver", "bus/usb/drivers/ftdi_sio")
	sys.linkTo(usb+"/1-1/1-1:1.0/ttyUSB0/driver", "bus/usb-serial/drivers/ftdi_sio")
	sys.tty(usb+"/1-1/1-1:1.0/ttyUSB0/tty/ttyUSB0", "../../../ttyUSB0")

	// A second one, unplugged between the kernel's and udev's view: no
	// device node.
	sys.usbDevice(usb+"/1-3", "0403", "6001", "A9M9DV3R", "FTDI", "FT232R USB UART")
	sys.file(usb+"/1-3/1-3:1.0/bInterfaceNumber", "00\n")
	sys.linkTo(usb+"/1-3/1-3:1.0/ttyUSB1/driver", "bus/usb-serial/drivers/ftdi_sio")
	sys.tty(usb+"/1-3/1-3:1.0/ttyUSB1/tty/ttyUSB1", "../../../ttyUSB1")

	// Arduino Uno: cdc_acm's tty hangs off the interface; no product string.
	sys.usbDevice(usb+"/1-2", "2341", "0043", "85735313932351E0A1B2", "Arduino (www.arduino.cc)", "")
	sys.file(usb+"/1-2/1-2:1.0/bInterfaceNumber", "00\n")
	sys.linkTo(usb+"/1-2/1-2:1.0/driver", "bus/usb/drivers/cdc_acm")
	sys.tty(usb+"/1-2/1-2:1.0/tty/ttyACM0", "../../../1-2:1.0")

	// Pico: names its CDC interface.
	sys.usbDevice(usb+"/1-4", "2e8a", "000a", "E660583883265F2F", "Raspberry Pi", "Pico")
	sys.file(usb+"/1-4/1-4:1.0/bInterfaceNumber", "00\n")
	sys.file(usb+"/1-4/1-4:1.0/interface", "Board CDC\n")
	sys.linkTo(usb+"/1-4/1-4:1.0/driver", "bus/usb/drivers/cdc_acm")
	sys.tty(usb+"/1-4/1-4:1.0/tty/ttyACM1", "../../../1-4:1.0")

	// Pi PL011 UART, as kernels before 6.5 lay it out.
	soc := "devices/platform/soc"
	sys.linkTo(soc+"/fe201000.serial/driver", "bus/amba/drivers/uart-pl011")
	sys.tty(soc+"/fe201000.serial/tty/ttyAMA0", "../../../fe201000.serial")

	// And as 6.5 and later do, with serial-core's ctrl and port devices
	// in between.
	sys.linkTo(soc+"/fe201400.serial/driver", "bus/amba/drivers/uart-pl011")
	ctrl := soc + "/fe201400.serial/fe201400.serial:0"
	sys.linkTo(ctrl+"/subsystem", "bus/serial-base")
	sys.linkTo(ctrl+"/driver", "bus/serial-base/drivers/ctrl")
	sys.linkTo(ctrl+"/fe201400.serial:0.0/subsystem", "bus/serial-base")
	sys.linkTo(ctrl+"/fe201400.serial:0.0/driver", "bus/serial-base/drivers/port")
	sys.tty(ctrl+"/fe201400.serial:0.0/tty/ttyAMA1", "../../../fe201400.serial:0.0")

	// 8250 slots: ttyS1 is a placeholder with no UART behind it; ttyS10
	// has no type file and is kept.
	sys.linkTo("devices/platform/serial8250/driver", "bus/platform/drivers/serial8250")
	for name, typ := range map[string]string{"ttyS0": "4", "ttyS1": "0", "ttyS2": "4", "ttyS10": ""} {
		dir := "devices/platform/serial8250/tty/" + name
		sys.tty(dir, "../../../serial8250")
		if typ != "" {
			sys.file(dir+"/type", typ+"\n")
		}
	}

	// Virtual ttys: only the gadget serial port counts.
	for _, name := range []string{"ttyGS0", "tty1", "tty", "console", "ptmx", "ttyprintk"} {
		sys.tty("devices/virtual/tty/"+name, "")
	}

	for _, name := range []string{"ttyUSB0", "ttyACM0", "ttyACM1", "ttyAMA0", "ttyAMA1", "ttyS0", "ttyS1", "ttyS2", "ttyS10", "ttyGS0", "tty1", "tty", "console", "ptmx", "ttyprintk"} {
		if err := os.WriteFile(filepath.Join(devRoot, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	got, err := ListPorts(sys.root, devRoot)
	if err != nil {
		t.Fatal(err)
	}
	dev := func(name string) string { return filepath.Join(devRoot, name) }
	want := []PortInfo{
		{Path: dev("ttyACM0"), Name: "ttyACM0", Driver: "cdc_acm", USB: true, VID: "2341", PID: "0043",
			SerialNumber: "85735313932351E0A1B2", Manufacturer: "Arduino (www.arduino.cc)"},
		{Path: dev("ttyACM1"), Name: "ttyACM1", Driver: "cdc_acm", USB: true, VID: "2e8a", PID: "000a",
			SerialNumber: "E660583883265F2F", Manufacturer: "Raspberry Pi", Product: "Pico", Interface: "Board CDC"},
		{Path: dev("ttyAMA0"), Name: "ttyAMA0", Driver: "uart-pl011"},
		{Path: dev("ttyAMA1"), Name: "ttyAMA1", Driver: "uart-pl011"},
		{Path: dev("ttyGS0"), Name: "ttyGS0"},
		{Path: dev("ttyS0"), Name: "ttyS0", Driver: "serial8250"},
		{Path: dev("ttyS2"), Name: "ttyS2", Driver: "serial8250"},
		{Path: dev("ttyS10"), Name: "ttyS10", Driver: "serial8250"},
		{Path: dev("ttyUSB0"), Name: "ttyUSB0", Driver: "ftdi_sio", USB: true, VID: "0403", PID: "6001",
			SerialNumber: "A50285BI", Manufacturer: "FTDI", Product: "FT232R USB UART"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ListPorts:\n got %+v\nwant %+v", got, want)
	}
}

func TestListPortsEmpty(t *testing.T) {
	sys := fakeSys{t, t.TempDir()}
	sys.dir("class/tty")
	got, err := ListPorts(sys.root, t.TempDir())
	if err != nil || len(got) != 0 {
		t.Errorf("ListPorts = %v, %v; want no ports, no error", got, err)
	}
}

func TestListPortsNoSysfs(t *testing.T) {
	_, err := ListPorts(t.TempDir(), t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "firmwarebridge: ") {
		t.Errorf("ListPorts without class/tty: err = %v; want a firmwarebridge: error wrapping fs.ErrNotExist", err)
	}
}

func TestListPortsOnThisMachine(t *testing.T) {
	if _, err := os.Stat("/sys/class/tty"); err != nil {
		t.Skip("no sysfs here:", err)
	}
	ports, err := ListPorts("/sys", "/dev")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if _, err := os.Lstat(p.Path); err != nil {
			t.Errorf("%s listed: %v", p.Name, err)
		}
		if p.USB && (p.VID == "" || p.PID == "") {
			t.Errorf("%s: USB without VID:PID: %+v", p.Name, p)
		}
	}
	t.Logf("%d ports: %+v", len(ports), ports)
}
