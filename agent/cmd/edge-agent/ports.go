package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	firmwarebridge "edge-agent/firmware-bridge"
)

// productWidth keeps the table within 80 columns for the usual port, driver
// and serial widths; USB product strings run to 50 characters and more.
const productWidth = 30

const ttySNote = "ttyS* ports are listed from sysfs: whether anything is wired to a UART cannot\nbe told without opening it, and opening reprograms it, so edge-agent never does."

// portsCommand lists serial ports: `edge-agent ports [--json]`.
func portsCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ports", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print a JSON array")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge-agent ports [--json]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	ports, err := firmwarebridge.ListPorts("/sys", "/dev")
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent ports: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		// Scripts expect an array, not null, when nothing is plugged in.
		if ports == nil {
			ports = []firmwarebridge.PortInfo{}
		}
		// PortInfo is strings and a bool: marshalling cannot fail.
		b, _ := json.Marshal(ports)
		fmt.Fprintf(stdout, "%s\n", b)
		return exitOK
	}
	writePortsTable(stdout, ports)
	return exitOK
}

func writePortsTable(w io.Writer, ports []firmwarebridge.PortInfo) {
	if len(ports) == 0 {
		fmt.Fprintln(w, "no serial ports found")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tDRIVER\tVID:PID\tSERIAL\tPRODUCT")
	anyTTYS := false
	for _, p := range ports {
		vidPID := ""
		if p.USB {
			vidPID = p.VID + ":" + p.PID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", portCell(p.Path), portCell(p.Driver), portCell(vidPID),
			portCell(p.SerialNumber), portCell(truncateRunes(productName(p), productWidth)))
		anyTTYS = anyTTYS || strings.HasPrefix(p.Name, "ttyS")
	}
	tw.Flush()
	if anyTTYS {
		fmt.Fprintf(w, "\n%s\n", ttySNote)
	}
}

// productName joins manufacturer and product, once: many devices already
// start the product string with the vendor's name.
func productName(p firmwarebridge.PortInfo) string {
	if strings.HasPrefix(p.Product, p.Manufacturer) {
		return p.Product
	}
	return strings.TrimSpace(p.Manufacturer + " " + p.Product)
}

// portCell makes a sysfs string safe for the table: USB strings come from
// the device, and a tab, newline or escape sequence in one would break the
// columns or the terminal.
func portCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
