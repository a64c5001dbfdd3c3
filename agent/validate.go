package agent

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"edge-agent/transport/echo"
)

// Validate checks what the types alone cannot, and names the variable at
// fault in a ConfigError. All problems are reported, not just the first.
func (c Config) Validate() error {
	var errs []error
	bad := func(name, value, accepted string) {
		errs = append(errs, &ConfigError{Var: Prefix + "_" + name, Value: value, Accepted: accepted})
	}
	if err := checkAddr(c.Echo.Addr); err != nil {
		bad("ECHO_ADDR", c.Echo.Addr, err.Error())
	}
	if c.Echo.MaxConns < 1 {
		bad("ECHO_MAX_CONNS", strconv.Itoa(c.Echo.MaxConns), "a whole number of at least 1")
	}
	if c.Echo.MaxConnsPerSource < 1 {
		bad("ECHO_MAX_CONNS_PER_SOURCE", strconv.Itoa(c.Echo.MaxConnsPerSource), "a whole number of at least 1: connections from one IPv4 address or IPv6 /64")
	}
	if c.Echo.MaxPending < echo.ReadSize {
		bad("ECHO_MAX_PENDING", c.Echo.MaxPending.String(), "a size of at least "+ByteSize(echo.ReadSize).String()+" (one read, the most one connection holds), e.g. 16MiB")
	}
	if c.Echo.IdleTimeout <= 0 {
		bad("ECHO_IDLE_TIMEOUT", formatDuration(c.Echo.IdleTimeout), "a positive duration such as 30s or 5m")
	}
	checkRate := func(name string, v float64) {
		if !(v >= 0) { // also catches NaN
			bad(name, strconv.FormatFloat(v, 'g', -1, 64), "a number of replies per second, 0 for unlimited")
		}
	}
	checkRate("ECHO_UDP_RATE_LIMIT", c.Echo.UDPRateLimit)
	if err := checkAddr(c.NTP.Addr); err != nil {
		bad("NTP_ADDR", c.NTP.Addr, err.Error())
	}
	if c.NTP.Stratum < 1 || c.NTP.Stratum > 15 {
		bad("NTP_STRATUM", strconv.Itoa(int(c.NTP.Stratum)), "1 to 15")
	}
	if c.NTP.FallbackStratum > 15 {
		bad("NTP_FALLBACK_STRATUM", strconv.Itoa(int(c.NTP.FallbackStratum)), "0 (off) or 1 to 15")
	}
	checkRate("NTP_RATE_LIMIT", c.NTP.RateLimit)
	if err := checkAddr(c.Time.Addr); err != nil {
		bad("TIME_ADDR", c.Time.Addr, err.Error())
	}
	checkRate("TIME_RATE_LIMIT", c.Time.RateLimit)
	f := c.File
	if err := checkAddr(f.Addr); err != nil {
		bad("FILE_ADDR", f.Addr, err.Error())
	}
	if f.Addr != Off && strings.TrimSpace(f.Dir) == "" {
		bad("FILE_DIR", f.Dir, "a directory path")
	}
	if f.MaxSize < 1 {
		bad("FILE_MAX_SIZE", f.MaxSize.String(), "a size of at least 1 byte, e.g. 64MiB or 2GiB")
	}
	for name, v := range map[string]int{"FILE_MAX_CONNS": f.MaxConns, "FILE_MAX_CONNS_PER_SOURCE": f.MaxConnsPerSource} {
		if v < 1 {
			bad(name, strconv.Itoa(v), "a whole number of at least 1")
		}
	}
	for name, v := range map[string]time.Duration{"FILE_HEADER_TIMEOUT": f.HeaderTimeout, "FILE_IDLE_TIMEOUT": f.IdleTimeout, "FILE_PARTIAL_TTL": f.PartialTTL} {
		if v <= 0 {
			bad(name, formatDuration(v), "a positive duration such as 30s or 5m")
		}
	}
	m := c.MQTT
	if m.URL != Off && m.URL != "" {
		for _, u := range strings.Split(m.URL, ",") {
			if err := checkBrokerURL(strings.TrimSpace(u)); err != nil {
				bad("MQTT_URL", m.URL, err.Error())
				break
			}
		}
	}
	if m.URL == "" {
		if err := checkAddr(m.EmbeddedAddr); err != nil || m.EmbeddedAddr == Off {
			bad("MQTT_EMBEDDED_ADDR", m.EmbeddedAddr, "host:port for the embedded broker, e.g. 127.0.0.1:1883 (to turn MQTT off set EDGE_MQTT_URL=off)")
		} else if !loopbackAddr(m.EmbeddedAddr) && m.EmbeddedPasswordFile == "" && !m.EmbeddedAnonymous {
			bad("MQTT_EMBEDDED_ADDR", m.EmbeddedAddr, "a loopback address such as 127.0.0.1:1883, [::1]:1883 or localhost:1883; "+
				"on any other address every host that reaches it could publish commands to the agent, so also set "+
				"EDGE_MQTT_EMBEDDED_PASSWORD_FILE (a mosquitto_passwd file) to make clients log in, "+
				"or EDGE_MQTT_EMBEDDED_ANONYMOUS=true if everyone on that network is trusted")
		}
		if m.EmbeddedMaxPacket < 1<<10 || m.EmbeddedMaxPacket > 256<<20 {
			bad("MQTT_EMBEDDED_MAX_PACKET", m.EmbeddedMaxPacket.String(), "a size from 1KiB to 256MiB, e.g. 256KiB")
		}
		if m.EmbeddedMaxRetained < 16 || m.EmbeddedMaxRetained > 100000 {
			bad("MQTT_EMBEDDED_MAX_RETAINED", strconv.Itoa(m.EmbeddedMaxRetained), "16 to 100000 (the agent keeps about a dozen itself)")
		}
		if m.EmbeddedMaxRetainedSize < 64<<10 {
			bad("MQTT_EMBEDDED_MAX_RETAINED_SIZE", m.EmbeddedMaxRetainedSize.String(), "a size of at least 64KiB, e.g. 4MiB")
		}
		if m.EmbeddedMaxQueued < 2*m.EmbeddedMaxPacket {
			bad("MQTT_EMBEDDED_MAX_QUEUED", m.EmbeddedMaxQueued.String(), "a size of at least twice EDGE_MQTT_EMBEDDED_MAX_PACKET ("+m.EmbeddedMaxPacket.String()+"), e.g. 8MiB")
		}
		if m.EmbeddedMaxClients < 2 || m.EmbeddedMaxClients > 1024 {
			bad("MQTT_EMBEDDED_MAX_CLIENTS", strconv.Itoa(m.EmbeddedMaxClients), "2 to 1024 (the agent's own bridge is one of them)")
		}
	}
	if !validTopicLevel(m.Prefix) {
		bad("MQTT_PREFIX", m.Prefix, "one MQTT topic level: no /, + or #, not empty")
	}
	if m.DiscoveryPrefix != Off && !validTopicLevel(m.DiscoveryPrefix) {
		bad("MQTT_DISCOVERY_PREFIX", m.DiscoveryPrefix, "one MQTT topic level (no /, + or #), or off")
	}
	if m.Interval < time.Second {
		bad("MQTT_INTERVAL", formatDuration(m.Interval), "a duration of at least 1s")
	}
	if m.DiskFullPercent < 1 || m.DiskFullPercent > 100 {
		bad("MQTT_DISK_FULL_PERCENT", strconv.Itoa(m.DiskFullPercent), "a whole percentage from 1 to 100, e.g. 90 to be warned when the disk is 90% full")
	}
	if (m.CertFile == "") != (m.KeyFile == "") {
		bad("MQTT_KEY_FILE", m.KeyFile, "set together with EDGE_MQTT_CERT_FILE, or both empty")
	}
	if c.DeviceID != "" && strings.Trim(c.DeviceID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		bad("DEVICE_ID", c.DeviceID, "letters, digits, _ and - only, or empty for the hostname")
	}
	for _, sp := range []struct {
		name, port string
		baud       int
	}{{"CONSOLE", c.Console.Port, c.Console.Baud}, {"FIRMWARE", c.Firmware.Port, c.Firmware.Baud}} {
		if serialOff(sp.port) {
			continue
		}
		if !strings.HasPrefix(sp.port, "/") {
			bad(sp.name+"_PORT", sp.port, "an absolute device path such as /dev/ttyAMA0, empty or off")
		}
		if sp.baud < 50 || sp.baud > 4_000_000 {
			bad(sp.name+"_BAUD", strconv.Itoa(sp.baud), "a baud rate from 50 to 4000000, e.g. 9600 or 115200")
		}
	}
	if !serialOff(c.Firmware.Port) {
		if c.Firmware.Port == c.Console.Port {
			bad("FIRMWARE_PORT", c.Firmware.Port, "a port other than EDGE_CONSOLE_PORT's")
		}
		if m.URL == Off {
			bad("FIRMWARE_PORT", c.Firmware.Port, "empty or off while EDGE_MQTT_URL=off: the bridge carries the microcontroller's lines to MQTT")
		}
		if c.Firmware.MaxFrame < 1 || c.Firmware.MaxFrame > 65536 {
			bad("FIRMWARE_MAX_FRAME", strconv.Itoa(c.Firmware.MaxFrame), "1 to 65536 bytes")
		}
	}
	errs = append(errs, c.validateActions()...)
	errs = append(errs, c.validateUpdate()...)
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

// checkAddr accepts "off" or host:port with a numeric port; the host may
// be empty (all interfaces), an IP address or a name.
func checkAddr(addr string) error {
	if addr == Off {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("host:port, :port (all interfaces), or off")
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || port != strconv.FormatUint(p, 10) {
		return errors.New("a port number from 0 to 65535 after the colon, e.g. :8081 or 127.0.0.1:8081, or off")
	}
	for _, r := range host {
		if r <= ' ' || r == '/' {
			return errors.New("a host without spaces or slashes, e.g. 192.168.1.10:8081, or off")
		}
	}
	return nil
}

// checkBrokerURL accepts what the MQTT client can dial.
func checkBrokerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return errors.New("broker URLs such as tcp://192.168.1.2:1883, ssl://broker:8883 or ws://broker/mqtt, comma-separated; empty for the embedded broker; off")
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		return nil
	}
	return errors.New("a URL scheme of tcp, mqtt, ssl, tls, mqtts, ws or wss")
}

// loopbackAddr reports whether a host:port stays on this machine: a
// loopback IP or the name localhost. An empty host is every interface,
// and another name may resolve to anything.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	return strings.EqualFold(strings.TrimSuffix(host, "."), "localhost")
}

func validTopicLevel(s string) bool {
	return s != "" && !strings.ContainsAny(s, "/+#\x00")
}

// serialOff says whether a serial port setting leaves its service off.
func serialOff(port string) bool { return port == "" || port == Off }
