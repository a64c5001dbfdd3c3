package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"edge-agent/agent/actions"
	"edge-agent/firmware-bridge"
	"edge-agent/transport/echo"
)

// Prefix is the prefix of every environment variable the agent reads.
const Prefix = "EDGE"

// Off as a service address disables that service.
const Off = "off"

// Config is the whole configuration, read from EDGE_ variables. Each field
// carries its default and a one-line meaning in its tags; `edge-agent
// config` prints them, and the README table is generated from them.
//
// Names come from field names (split_words for multi-word ones), never from
// an `envconfig` tag: with such a tag envconfig also reads the bare name
// (ADDR, MODE, LEVEL) when the prefixed one is unset, and a stray variable
// of the same name elsewhere in the environment would be taken.
type Config struct {
	Log  LogConfig
	Echo EchoConfig
	NTP  NTPConfig
	Time TimeConfig
	File FileConfig
	MQTT MQTTConfig
	// Console and Firmware are the serial side, off unless a port is set.
	Console  ConsoleConfig
	Firmware FirmwareConfig
	// ActionsConfig is what may be asked of the device over MQTT:
	// nothing unless EDGE_ACTIONS names it. Embedded, so that the
	// allow-list is EDGE_ACTIONS itself.
	ActionsConfig
	// UpdateConfig is whether and how the agent updates itself: off
	// unless EDGE_UPDATE=on.
	UpdateConfig
	// DeviceID names the device on MQTT; empty means the hostname, cut
	// down to [a-zA-Z0-9_-].
	DeviceID string `split_words:"true" desc:"device id in MQTT topics and Home Assistant" accepts:"letters, digits, _ and -; empty = the hostname" optional:"true"`
}

// LogConfig sets up the process logger.
type LogConfig struct {
	Level  slog.Level `default:"info" desc:"least severe log level written" accepts:"debug, info, warn, error"`
	Format LogFormat  `default:"text" desc:"log line format" accepts:"text (key=value), json"`
}

// EchoConfig configures the TCP and UDP echo service.
type EchoConfig struct {
	Addr              string        `default:":8081" desc:"TCP and UDP address of the echo service"`
	Mode              echo.Mode     `default:"upper" desc:"upper: ASCII a-z upper-cased, as the seed servers; plain: unchanged (RFC 862)" accepts:"upper, plain"`
	MaxConns          int           `split_words:"true" default:"10000" desc:"open TCP connections allowed; more are closed at once and counted"`
	MaxConnsPerSource int           `split_words:"true" default:"64" desc:"open TCP connections allowed from one source (an IPv4 address, an IPv6 /64); more are closed at once and counted"`
	MaxPending        ByteSize      `split_words:"true" default:"16MiB" desc:"reply bytes held in all for TCP peers that send without reading; past it the connection holding the most is closed and counted"`
	IdleTimeout       time.Duration `split_words:"true" default:"5m" desc:"close a TCP connection that sends nothing for this long"`
	UDPRateLimit      float64       `split_words:"true" default:"50" desc:"UDP replies per second per source address, in bursts of up to one second's worth; 0 = unlimited"`
}

// NTPConfig configures the SNTP server.
type NTPConfig struct {
	Addr            string  `default:":123" desc:"UDP address of the SNTP server (ports below 1024 need CAP_NET_BIND_SERVICE)"`
	Stratum         uint8   `default:"3" desc:"stratum served while the host clock is synchronised" accepts:"1 to 15"`
	FallbackStratum uint8   `split_words:"true" default:"0" desc:"serve an unsynchronised clock at this stratum instead of leap 3 (isolated LANs whose host has an RTC); 0 = off" accepts:"0 to 15"`
	RateLimit       float64 `split_words:"true" default:"4" desc:"requests answered per second per source address, in bursts of up to one second's worth; 0 = unlimited"`
	KissOfDeath     bool    `split_words:"true" default:"true" desc:"answer a source over the rate with a RATE kiss-o'-death (at most one per 2 s) so real clients back off"`
}

// TimeConfig configures the text time service of seed 002.
type TimeConfig struct {
	Addr      string  `default:":8080" desc:"UDP address of the text time service: strftime format in, local time out"`
	RateLimit float64 `split_words:"true" default:"10" desc:"replies per second per source address, in bursts of up to one second's worth; 0 = unlimited"`
}

// FileConfig configures the framed file receiver of seed 003.
type FileConfig struct {
	Addr              string        `default:":8080" desc:"TCP address of the framed file receiver"`
	Dir               string        `default:"received" desc:"directory files are stored in, created if missing; relative to the working directory" accepts:"a directory path"`
	MaxSize           ByteSize      `split_words:"true" default:"1GiB" desc:"largest file accepted"`
	MinFree           ByteSize      `split_words:"true" default:"64MiB" desc:"free space to keep on the file system; a file that would eat into it is refused before a byte is written"`
	MaxConns          int           `split_words:"true" default:"32" desc:"open upload connections allowed; more are closed at once and counted"`
	MaxConnsPerSource int           `split_words:"true" default:"4" desc:"open upload connections allowed from one source (an IPv4 address, an IPv6 /64)"`
	Token             string        `secret:"true" desc:"shared secret every upload must carry (the seed client cannot, and is refused); empty = none" accepts:"text"`
	HeaderTimeout     time.Duration `split_words:"true" default:"30s" desc:"time allowed for a complete header, from the connection or the end of the previous file"`
	IdleTimeout       time.Duration `split_words:"true" default:"60s" desc:"cut a sender whose body stalls this long"`
	PartialTTL        time.Duration `split_words:"true" default:"24h" desc:"how long an interrupted resumable upload is kept for its sender to continue"`
}

// MQTTConfig configures the status bridge and the embedded broker.
type MQTTConfig struct {
	URL             string        `desc:"broker URLs, comma-separated for failover (tcp://, ssl://, ws://, wss://); empty = the embedded broker; off = no MQTT" accepts:"URLs, empty or off" optional:"true"`
	Username        string        `desc:"user name for the broker" accepts:"text" optional:"true"`
	PasswordFile    string        `split_words:"true" desc:"file holding the broker password (kept out of the environment)" accepts:"a file path" optional:"true"`
	CAFile          string        `split_words:"true" desc:"PEM CA certificates for ssl:// and wss:// brokers; empty = the system's" accepts:"a file path" optional:"true"`
	CertFile        string        `split_words:"true" desc:"PEM client certificate, with EDGE_MQTT_KEY_FILE" accepts:"a file path" optional:"true"`
	KeyFile         string        `split_words:"true" desc:"PEM private key of the client certificate" accepts:"a file path" optional:"true"`
	Prefix          string        `default:"edge" desc:"first level of every topic: PREFIX/DEVICE_ID/..." accepts:"an MQTT topic level"`
	DiscoveryPrefix string        `split_words:"true" default:"homeassistant" desc:"Home Assistant discovery prefix; off = no discovery" accepts:"an MQTT topic level, or off"`
	Interval        time.Duration `default:"30s" desc:"how often the state is published"`
	DiskFullPercent int           `split_words:"true" default:"90" desc:"Home Assistant's Disk nearly full binary sensor turns on when the file directory's disk is this full, in percent" accepts:"1 to 100"`

	// The embedded broker, run when URL is empty.
	EmbeddedAddr            string   `split_words:"true" default:"127.0.0.1:1883" desc:"address of the embedded broker, used when EDGE_MQTT_URL is empty; an address other than loopback needs EDGE_MQTT_EMBEDDED_PASSWORD_FILE or EDGE_MQTT_EMBEDDED_ANONYMOUS=true"`
	EmbeddedPasswordFile    string   `split_words:"true" desc:"mosquitto_passwd file of the embedded broker's users, who may publish commands; empty = none, every client is anonymous" accepts:"a file path" optional:"true"`
	EmbeddedAnonymous       bool     `split_words:"true" default:"false" desc:"let clients without a user name into the embedded broker even with a password file or on an address other than loopback; they may read everything but publish nothing under the device's topics"`
	EmbeddedMaxPacket       ByteSize `split_words:"true" default:"256KiB" desc:"largest packet the embedded broker reads; a client sending a larger one is disconnected"`
	EmbeddedMaxRetained     int      `split_words:"true" default:"1000" desc:"retained messages the embedded broker keeps; more are refused" accepts:"16 to 100000"`
	EmbeddedMaxRetainedSize ByteSize `split_words:"true" default:"4MiB" desc:"memory the embedded broker's retained messages may take (payloads, topics and index); more are refused"`
	EmbeddedMaxQueued       ByteSize `split_words:"true" default:"8MiB" desc:"memory the embedded broker may hold for subscribers, all together; past it the subscriber holding most is disconnected"`
	EmbeddedMaxClients      int      `split_words:"true" default:"64" desc:"open connections to the embedded broker; more are closed at once and counted" accepts:"2 to 1024"`
}

// ConsoleConfig configures the serial console.
type ConsoleConfig struct {
	Port     string `desc:"serial port of the console: /dev/ttyGS0 (Pi Zero USB gadget), /dev/ttyAMA0 or /dev/serial0 (GPIO 14/15), /dev/ttyUSB0; empty = off" accepts:"a device path, empty or off" optional:"true"`
	Baud     int    `default:"115200" desc:"line speed of the console port" accepts:"a baud rate, 50 to 4000000"`
	Password string `secret:"true" desc:"asked before any console command; 3 wrong ones (empty lines do not count) lock logins for a minute; empty = no login (whoever holds the cable gets the console)" accepts:"text"`
	Echo     bool   `default:"true" desc:"echo typed characters back; false for a terminal that echoes locally"`
}

// FirmwareConfig configures the bridge between a microcontroller on a
// serial port and MQTT.
type FirmwareConfig struct {
	Port     string                 `desc:"serial port of a microcontroller bridged to MQTT: /dev/ttyACM0, /dev/ttyUSB0, /dev/serial/by-id/...; empty = off" accepts:"a device path, empty or off" optional:"true"`
	Baud     int                    `default:"115200" desc:"line speed of the microcontroller's port" accepts:"a baud rate, 50 to 4000000"`
	Framing  firmwarebridge.Framing `default:"lines" desc:"lines: text lines ended by CR, LF or CRLF; cobs: COBS frames with a CRC-16/CCITT-FALSE, 0x00-delimited" accepts:"lines, cobs"`
	MaxFrame int                    `split_words:"true" default:"1024" desc:"largest line or frame payload in bytes; longer ones are counted and skipped" accepts:"1 to 65536"`
	DTR      bool                   `default:"false" desc:"DTR level set at open: false keeps an Arduino from resetting; native-USB boards that wait for DTR (Leonardo, Pico, ESP32-S2/S3) need true"`
	RTS      bool                   `default:"false" desc:"RTS level set at open: false keeps an ESP32 auto-reset circuit in run mode"`
}

// ActionsConfig configures the actions (package actions) and who may ask
// for them (package authz).
type ActionsConfig struct {
	Actions               ActionList    `desc:"what may be asked of the device over MQTT (cmd/ACTION), comma-separated; empty = nothing" accepts:"restart, reboot, poweroff, script:NAME; empty" optional:"true"`
	ActionsDir            string        `split_words:"true" default:"/etc/edge-agent/actions.d" desc:"directory of the script:NAME programs, owned by root or the agent's user and writable by no one else" accepts:"an absolute directory path"`
	ActionsAuth           actions.Auth  `split_words:"true" default:"signed" desc:"signed: each request signed by a key of EDGE_ACTIONS_AUTHORIZED_KEYS (ssh-keygen -Y sign), replays refused; broker: whoever the broker lets publish on cmd/ (Home Assistant buttons)" accepts:"signed, broker"`
	ActionsAuthorizedKeys string        `split_words:"true" default:"/etc/edge-agent/authorized_keys" desc:"OpenSSH authorized_keys file of the keys that may sign actions; read at start and on SIGHUP" accepts:"a file path"`
	ActionsScriptTimeout  time.Duration `split_words:"true" default:"60s" desc:"a script still running after this long is killed, with every process it started"`
	ActionsMaxOutput      ByteSize      `split_words:"true" default:"64KiB" desc:"script output (standard output and error) kept for the reply; the rest is read and dropped" accepts:"a size from 1 byte to 1MiB, e.g. 64KiB"`
}

// ActionList is the allow-list of EDGE_ACTIONS, as written.
type ActionList string

// List returns the actions, without spaces or empty entries.
func (l ActionList) List() []string {
	var out []string
	for _, a := range strings.Split(string(l), ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Load reads the configuration from the environment and validates it.
// Every error names the variable and says what it accepts.
func Load() (Config, error) {
	var c Config
	if err := envconfig.Process(Prefix, &c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			return c, &ConfigError{Var: pe.KeyName, Value: pe.Value, Accepted: acceptedFor(pe.KeyName)}
		}
		return c, fmt.Errorf("agent: config: %w", err)
	}
	return c, c.Validate()
}

// ConfigError is a configuration value the agent cannot use.
type ConfigError struct {
	Var      string // the variable, e.g. EDGE_ECHO_MODE
	Value    string
	Accepted string // what would be accepted, for a person to act on
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s=%q is not valid: accepted: %s", e.Var, e.Value, e.Accepted)
}

// acceptedFor describes the values a variable accepts, from the type of
// the field behind it.
func acceptedFor(key string) string {
	for _, v := range Variables(Config{}) {
		if v.Name == key {
			return v.Accepts
		}
	}
	return "see edge-agent config"
}

// LogFormat is how log lines are written.
type LogFormat uint8

const (
	// LogText is logfmt-style key=value text, the default.
	LogText LogFormat = iota
	// LogJSON is one JSON object a line.
	LogJSON
)

func (f LogFormat) String() string {
	if f == LogJSON {
		return "json"
	}
	return "text"
}

// MarshalText is the inverse of UnmarshalText.
func (f LogFormat) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText accepts "text" or "json".
func (f *LogFormat) UnmarshalText(b []byte) error {
	switch strings.ToLower(string(b)) {
	case "text":
		*f = LogText
	case "json":
		*f = LogJSON
	default:
		return fmt.Errorf("agent: log format %q: accepted: text, json", b)
	}
	return nil
}
