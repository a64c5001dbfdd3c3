package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"edge-agent/agent/authz"
)

// Defaults and bounds of Config.
const (
	DefaultDir           = "/etc/edge-agent/actions.d"
	DefaultScriptTimeout = 60 * time.Second
	DefaultMaxOutput     = 64 << 10
	// MaxAllowed bounds the allow-list, and so the actions that can run
	// at once (one run of each).
	MaxAllowed = 64
	// MaxMaxOutput bounds MaxOutput: the output is held in memory and
	// goes out in one MQTT reply.
	MaxMaxOutput = 1 << 20
)

// Power reboots or powers off the device. Both return once the request is
// accepted; the system then stops the agent as it stops every service.
type Power interface {
	Reboot(ctx context.Context) error
	PowerOff(ctx context.Context) error
}

// Config sets up a Runner. The zero value allows nothing; fields left
// zero take the defaults named on them.
type Config struct {
	// Allowed is the allow-list: restart, reboot, poweroff, script:NAME.
	// An action not in it is refused (not_allowed) whoever signed it.
	Allowed []string
	// Dir holds the scripts; empty means DefaultDir. It must be an
	// absolute path when a script is allowed.
	Dir string
	// Auth says who may run an action: Signed (the default) or Broker.
	Auth Auth
	// Verifier checks signed commands and their replay counters; required
	// with Auth Signed.
	Verifier *authz.Verifier
	// DeviceID is this device's id, which a signed command must name.
	DeviceID string
	// ScriptTimeout ends a script (and every process it started) after
	// this long; 0 means DefaultScriptTimeout.
	ScriptTimeout time.Duration
	// MaxOutput is how much of a script's standard output and error is
	// kept for the reply; the rest is read, counted and dropped. 0 means
	// DefaultMaxOutput.
	MaxOutput int
	// Logger gets one line per action run and rate-limited refusals;
	// nil means slog.Default().
	Logger *slog.Logger
	// Restart asks the agent to stop cleanly and start again. It must
	// return at once (the reply is sent while the agent stops); required
	// when restart is allowed.
	Restart func() error
	// Power reboots and powers off; nil means systemd-logind on the
	// system bus (Logind{}).
	Power Power
	// Update runs the update action with the signed command's args (none
	// in broker mode) and returns what the reply should say; required
	// when update is allowed. An error that is not an
	// *authz.Refusal is reported as failed, and kept (wrapped) for the
	// caller to read a finer reason from.
	Update func(ctx context.Context, args []string) (string, error)
}

// Validate says what is wrong with the configuration in terms a person
// can act on.
func (c Config) Validate() error {
	var errs []error
	if len(c.Allowed) > MaxAllowed {
		errs = append(errs, fmt.Errorf("actions: %d allowed actions, over the limit of %d", len(c.Allowed), MaxAllowed))
	}
	scripts := false
	for _, a := range c.Allowed {
		name, err := ParseAction(a)
		if err != nil {
			errs = append(errs, err)
		}
		scripts = scripts || name != ""
		if a == Restart && c.Restart == nil {
			errs = append(errs, errors.New("actions: restart is allowed but the agent gave no way to restart"))
		}
		if a == Update && c.Update == nil {
			errs = append(errs, errors.New("actions: update is allowed but the agent gave no way to update"))
		}
	}
	if scripts && c.Dir != "" && !filepath.IsAbs(c.Dir) {
		errs = append(errs, fmt.Errorf("actions: scripts directory %q is not an absolute path", c.Dir))
	}
	switch c.Auth {
	case Signed:
		if len(c.Allowed) > 0 && c.Verifier == nil {
			errs = append(errs, errors.New("actions: signed actions need authorized keys and a replay counters file"))
		}
		if len(c.Allowed) > 0 && c.DeviceID == "" {
			errs = append(errs, errors.New("actions: signed actions need the device id"))
		}
	case Broker:
	default:
		errs = append(errs, fmt.Errorf("actions: auth %v: accepted: signed, broker", c.Auth))
	}
	if c.ScriptTimeout < 0 {
		errs = append(errs, fmt.Errorf("actions: script timeout %v is negative", c.ScriptTimeout))
	}
	if c.MaxOutput < 0 || c.MaxOutput > MaxMaxOutput {
		errs = append(errs, fmt.Errorf("actions: max output %d is not between 0 and %d bytes", c.MaxOutput, MaxMaxOutput))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.Dir == "" {
		c.Dir = DefaultDir
	}
	if c.ScriptTimeout == 0 {
		c.ScriptTimeout = DefaultScriptTimeout
	}
	if c.MaxOutput == 0 {
		c.MaxOutput = DefaultMaxOutput
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Power == nil {
		c.Power = Logind{}
	}
	c.Allowed = slices.Clone(c.Allowed)
	return c
}

func (c Config) allowedList() string {
	if len(c.Allowed) == 0 {
		return "none (EDGE_ACTIONS is empty)"
	}
	return strings.Join(c.Allowed, ", ")
}
