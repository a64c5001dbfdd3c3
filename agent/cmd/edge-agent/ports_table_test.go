package main

import (
	"bytes"
	"testing"

	firmwarebridge "edge-agent/firmware-bridge"
)

func TestWritePortsTable(t *testing.T) {
	ports := []firmwarebridge.PortInfo{
		{Path: "/dev/ttyACM0", Name: "ttyACM0", Driver: "cdc_acm", USB: true, VID: "2341", PID: "0043",
			SerialNumber: "85735313932351E0A1B2", Manufacturer: "Arduino (www.arduino.cc)"},
		{Path: "/dev/ttyACM1", Name: "ttyACM1", Driver: "cdc_acm", USB: true, VID: "1209", PID: "0001",
			Manufacturer: "Acme", Product: "Acme Sensor\t\x1b[2J"},
		{Path: "/dev/ttyAMA0", Name: "ttyAMA0", Driver: "uart-pl011"},
		{Path: "/dev/ttyGS0", Name: "ttyGS0"},
		{Path: "/dev/ttyS0", Name: "ttyS0", Driver: "serial8250"},
		{Path: "/dev/ttyUSB0", Name: "ttyUSB0", Driver: "cp210x", USB: true, VID: "10c4", PID: "ea60",
			SerialNumber: "0001", Manufacturer: "Silicon Labs", Product: "CP2102 USB to UART Bridge Controller"},
	}
	want := `PORT          DRIVER      VID:PID    SERIAL                PRODUCT
/dev/ttyACM0  cdc_acm     2341:0043  85735313932351E0A1B2  Arduino (www.arduino.cc)
/dev/ttyACM1  cdc_acm     1209:0001  -                     Acme Sensor??[2J
/dev/ttyAMA0  uart-pl011  -          -                     -
/dev/ttyGS0   -           -          -                     -
/dev/ttyS0    serial8250  -          -                     -
/dev/ttyUSB0  cp210x      10c4:ea60  0001                  Silicon Labs CP2102 USB to UA…

ttyS* ports are listed from sysfs: whether anything is wired to a UART cannot
be told without opening it, and opening reprograms it, so edge-agent never does.
`
	var b bytes.Buffer
	writePortsTable(&b, ports)
	if b.String() != want {
		t.Errorf("writePortsTable:\n%s\nwant:\n%s", b.String(), want)
	}

	// The note is about ttyS* only.
	b.Reset()
	writePortsTable(&b, ports[:1])
	if want := "PORT          DRIVER   VID:PID    SERIAL                PRODUCT\n" +
		"/dev/ttyACM0  cdc_acm  2341:0043  85735313932351E0A1B2  Arduino (www.arduino.cc)\n"; b.String() != want {
		t.Errorf("writePortsTable without ttyS*:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWritePortsTableEmpty(t *testing.T) {
	var b bytes.Buffer
	writePortsTable(&b, nil)
	if got, want := b.String(), "no serial ports found\n"; got != want {
		t.Errorf("writePortsTable(nil) = %q, want %q", got, want)
	}
}
