package agent

import (
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"edge-agent/agent/health"
	firmwarebridge "edge-agent/firmware-bridge"
	"edge-agent/transport/filerecv"
)

// consoleWidth is what every console answer fits in: a serial terminal.
const consoleWidth = 80

// consoleCommands are the serial console's commands (help is built in).
func (a *Agent) consoleCommands() []firmwarebridge.Command {
	return []firmwarebridge.Command{
		{Name: "status", Help: "uptime, version, clock, each service at a glance", Run: a.consoleStatus},
		{Name: "services", Help: "every service: address, state and all counters", Run: a.consoleServices},
		{Name: "config", Help: "every EDGE_ variable's current value (secrets hidden)", Run: a.consoleConfig},
		{Name: "time", Help: "local time, UTC and how well the clock is synchronised", Run: a.consoleTime},
		{Name: "files", Help: "the latest files received", Run: a.consoleFiles},
		{Name: "mqtt", Help: "broker connection, device id and topics", Run: a.consoleMQTT},
		{Name: "version", Help: "version, commit, Go version and target", Run: a.consoleVersion},
	}
}

// headline are the counters status shows of each service.
var headline = map[string][]string{
	"echo":        {"conns_active", "conns_total"},
	"ntp":         {"replies", "rate_limited"},
	"time":        {"replies", "rejected_rate_limit"},
	"file":        {"files", "bytes", "conns_active"},
	"mqtt-broker": {"clients_connected", "messages_received"},
	"mqtt":        {"connected", "publishes"},
	"console":     {"commands", "login_failures"},
	"firmware":    {"rx_published", "tx_messages", "rx_garbage"},
}

func (a *Agent) consoleStatus(w io.Writer, _ []string) error {
	st := a.Status()
	fmt.Fprintf(w, "edge-agent %s on %s, up %s\n", st.Version, a.deviceID(), st.Uptime.Round(time.Second))
	snap, _ := (&health.Collector{DiskPath: a.cfg.File.Dir}).Collect()
	fmt.Fprintf(w, "clock     %s\n", a.clockLine(snap.Clock))
	host := fmt.Sprintf("load %.2f, memory %.0f%% used", snap.Load1, snap.MemUsedPercent)
	if snap.CPUTempC != nil {
		host += fmt.Sprintf(", CPU %.1f °C", *snap.CPUTempC)
	}
	if snap.Disk != nil {
		host += fmt.Sprintf(", disk %.0f%% used", snap.Disk.UsedPercent)
	}
	fmt.Fprintf(w, "host      %s\n", host)
	for _, s := range st.Services {
		state := a.serviceState(s)
		if state == "" {
			var parts []string
			for _, k := range headline[s.Name] {
				parts = append(parts, fmt.Sprintf("%s=%d", k, s.Counters[k]))
			}
			state = strings.Join(parts, " ")
		}
		fmt.Fprintln(w, fit(fmt.Sprintf("%-11s %-21s %s", s.Name, s.Addr, state)))
	}
	return nil
}

// serviceState is "off", "down: why" for a serial port that is not
// open, or "" for a service at work.
func (a *Agent) serviceState(s ServiceStatus) string {
	switch {
	case s.Addr == Off:
		return "off"
	case s.Name == "console" && a.console.Down() != "":
		return "down: " + a.console.Down()
	case s.Name == "firmware" && a.firmware.Down() != "":
		return "down: " + a.firmware.Down()
	case s.Name == "mqtt" && s.Counters["connected"] == 0:
		return "not connected (retrying)"
	}
	return ""
}

func (a *Agent) clockLine(c health.ClockSync) string {
	switch {
	case c.Synchronised:
		return fmt.Sprintf("synchronised, max error %s", time.Duration(c.MaxErrorMicros)*time.Microsecond)
	case a.cfg.NTP.FallbackStratum > 0:
		return fmt.Sprintf("NOT synchronised; SNTP serves it at fallback stratum %d", a.cfg.NTP.FallbackStratum)
	}
	return "NOT synchronised; SNTP tells clients so (leap 3)"
}

// humanSize writes n bytes in the largest binary unit, one decimal.
func humanSize(n int64) string {
	const units = "KMGT"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}

func (a *Agent) consoleServices(w io.Writer, _ []string) error {
	for i, s := range a.Status().Services {
		if i > 0 {
			fmt.Fprintln(w)
		}
		state := a.serviceState(s)
		if state == "" {
			state = "on"
		}
		fmt.Fprintln(w, fit(fmt.Sprintf("%s  %s  %s", s.Name, s.Addr, state)))
		var kv []string
		for _, k := range slices.Sorted(maps.Keys(s.Counters)) {
			kv = append(kv, fmt.Sprintf("%s=%d", k, s.Counters[k]))
		}
		wrapWords(w, "  ", kv)
	}
	return nil
}

func (a *Agent) consoleConfig(w io.Writer, _ []string) error {
	for _, v := range Variables(a.cfg) {
		val := v.Value
		if val == "" {
			val = "(empty)"
		}
		fmt.Fprintln(w, fit(v.Name+"="+val))
	}
	return nil
}

func (a *Agent) consoleTime(w io.Writer, _ []string) error {
	now := time.Now()
	fmt.Fprintf(w, "local  %s\n", now.Format("2006-01-02 15:04:05.000 MST (-07:00)"))
	fmt.Fprintf(w, "UTC    %s\n", now.UTC().Format("2006-01-02 15:04:05.000"))
	clock, _ := health.KernelClock{}.ClockSync()
	fmt.Fprintf(w, "clock  %s\n", a.clockLine(clock))
	if clock.Synchronised {
		fmt.Fprintf(w, "SNTP   serving stratum %d\n", a.cfg.NTP.Stratum)
	}
	return nil
}

func (a *Agent) consoleFiles(w io.Writer, _ []string) error {
	files := a.files.list()
	if len(files) == 0 {
		fmt.Fprintln(w, "no files received since the agent started")
		return nil
	}
	for _, f := range files {
		verified := ""
		if f.Verified {
			verified = " sha256 ok"
		}
		fmt.Fprintln(w, fit(fmt.Sprintf("%s  %10s  %s from %s%s", f.At.Format("01-02 15:04:05"), humanSize(f.Size), f.Name, f.Peer, verified)))
	}
	return nil
}

func (a *Agent) consoleMQTT(w io.Writer, _ []string) error {
	if a.cfg.MQTT.URL == Off {
		fmt.Fprintln(w, "MQTT is off (EDGE_MQTT_URL=off)")
		return nil
	}
	var brokers string
	for _, s := range a.Status().Services {
		if s.Name == "mqtt" {
			brokers = s.Addr
		}
	}
	c := a.mqtt.Counters()
	state := "connected"
	if c["connected"] == 0 {
		state = "NOT connected, retrying"
	}
	base := a.cfg.MQTT.Prefix + "/" + a.deviceID()
	fmt.Fprintln(w, fit("broker     "+brokers))
	fmt.Fprintf(w, "state      %s (%d connects, %d publishes, %d skipped offline)\n", state, c["connects"], c["publishes"], c["skipped_offline"])
	fmt.Fprintln(w, fit("device id  "+a.deviceID()))
	fmt.Fprintln(w, fit("topics     "+base+"/{availability,state,events/+,cmd/+}"))
	if !serialOff(a.cfg.Firmware.Port) {
		fmt.Fprintln(w, fit("firmware   "+base+"/"+firmwareRx+" (from it), "+firmwareTx+" (to it)"))
	}
	return nil
}

func (a *Agent) consoleVersion(w io.Writer, _ []string) error {
	fmt.Fprintln(w, fit(Build().String()))
	fmt.Fprintf(w, "%d CPUs, %d goroutines\n", runtime.NumCPU(), runtime.NumGoroutine())
	return nil
}

// fit cuts a line to the console's width.
func fit(s string) string {
	if r := []rune(s); len(r) > consoleWidth {
		return string(r[:consoleWidth-1]) + "…"
	}
	return s
}

// wrapWords writes words in lines no wider than the console, each
// starting with indent.
func wrapWords(w io.Writer, indent string, words []string) {
	line := indent
	for _, word := range words {
		if len(line) > len(indent) && len(line)+1+len(word) > consoleWidth {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	if len(line) > len(indent) {
		fmt.Fprintln(w, line)
	}
}

// recentFiles keeps the last files received, for the console.
type recentFiles struct {
	mu    sync.Mutex
	files []receivedFile
}

type receivedFile struct {
	At time.Time
	filerecv.Received
}

const recentFilesKept = 10

func (r *recentFiles) add(f filerecv.Received) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.files) == recentFilesKept {
		r.files = r.files[1:]
	}
	r.files = append(r.files, receivedFile{time.Now(), f})
}

// list returns them newest first.
func (r *recentFiles) list() []receivedFile {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]receivedFile, len(r.files))
	for i, f := range r.files {
		out[len(out)-1-i] = f
	}
	return out
}
