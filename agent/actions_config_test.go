package agent

import (
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/actions"
)

// defaultActions is ActionsConfig with its defaults: nothing allowed.
var defaultActions = ActionsConfig{
	ActionsDir: "/etc/edge-agent/actions.d", ActionsAuthorizedKeys: "/etc/edge-agent/authorized_keys",
	ActionsScriptTimeout: time.Minute, ActionsMaxOutput: 64 << 10,
}

// writeKeys writes an authorized_keys file with n ed25519 keys.
func writeKeys(t *testing.T, n int) string {
	t.Helper()
	var lines []string
	for i := range n {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed).Public())
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))+" op@laptop")
	}
	path := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(path, []byte("# operators\n"+strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Each problem with the action variables is named with what to do; with
// actions on in signed mode, a keys file that is missing, unreadable or
// holds no key stops the agent before it starts.
func TestValidateActions(t *testing.T) {
	good := writeKeys(t, 1)
	empty := writeKeys(t, 0)
	badLine := filepath.Join(t.TempDir(), "authorized_keys")
	lines := strings.Split(strings.TrimSpace(readFile(t, good)), "\n")
	os.WriteFile(badLine, []byte("command=\"/bin/true\" "+lines[len(lines)-1]+"\n"), 0o644)
	base := func() Config {
		c, err := loadDefaults(t)
		if err != nil {
			t.Fatal(err)
		}
		c.ActionsAuthorizedKeys = good
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want []string // in the one error; none: valid
	}{
		{"nothing allowed", func(c *Config) { c.ActionsAuthorizedKeys = "/nonexistent" }, nil},
		{"signed with a key", func(c *Config) { c.Actions = "restart, reboot,script:backup" }, nil},
		{"broker mode needs no keys", func(c *Config) {
			c.Actions, c.ActionsAuth, c.ActionsAuthorizedKeys = "poweroff", actions.Broker, "/nonexistent"
		}, nil},
		{"not an action", func(c *Config) { c.Actions = "restart,shutdown" }, []string{"EDGE_ACTIONS=\"shutdown\"", "script:NAME"}},
		{"bad script name", func(c *Config) { c.Actions = "script:../x" }, []string{"EDGE_ACTIONS=\"script:../x\"", "not starting with a dot"}},
		{"MQTT off", func(c *Config) { c.Actions, c.MQTT.URL = "reboot", Off }, []string{"EDGE_ACTIONS=\"reboot\"", "EDGE_MQTT_URL=off"}},
		{"relative directory", func(c *Config) { c.Actions, c.ActionsDir = "script:x", "actions.d" }, []string{"EDGE_ACTIONS_DIR", "absolute"}},
		{"no timeout", func(c *Config) { c.ActionsScriptTimeout = 0 }, []string{"EDGE_ACTIONS_SCRIPT_TIMEOUT"}},
		{"output over 1MiB", func(c *Config) { c.ActionsMaxOutput = 2 << 20 }, []string{"EDGE_ACTIONS_MAX_OUTPUT", "1MiB"}},
		{"output over the embedded broker's packet", func(c *Config) { c.Actions, c.ActionsMaxOutput = "script:x", 1<<20 },
			[]string{"EDGE_ACTIONS_MAX_OUTPUT", "EDGE_MQTT_EMBEDDED_MAX_PACKET (256KiB) less 16KiB"}},
		{"output fits an outside broker", func(c *Config) { c.Actions, c.ActionsMaxOutput, c.MQTT.URL = "script:x", 1<<20, "tcp://b:1883" }, nil},
		{"keys file missing", func(c *Config) { c.Actions, c.ActionsAuthorizedKeys = "reboot", "/nonexistent/authorized_keys" },
			[]string{"EDGE_ACTIONS_AUTHORIZED_KEYS=\"/nonexistent/authorized_keys\"", "create it", "ssh-ed25519 AAAA... user@host", "or empty EDGE_ACTIONS"}},
		{"no key in it", func(c *Config) { c.Actions, c.ActionsAuthorizedKeys = "reboot", empty },
			[]string{"EDGE_ACTIONS_AUTHORIZED_KEYS=\"" + empty + "\"", "at least one key", "no one could sign"}},
		{"a key with an option", func(c *Config) { c.Actions, c.ActionsAuthorizedKeys = "reboot", badLine },
			[]string{"EDGE_ACTIONS_AUTHORIZED_KEYS", "line 1", `option "command"`}},
		{"relative keys path", func(c *Config) { c.Actions, c.ActionsAuthorizedKeys = "reboot", "authorized_keys" },
			[]string{"EDGE_ACTIONS_AUTHORIZED_KEYS", "absolute path"}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkValidate(t, base(), tc.edit, tc.want) })
	}
}

// checkValidate edits c and validates it: with want empty it must be
// valid, else refused with a ConfigError whose message says each of want.
func checkValidate(t *testing.T, c Config, edit func(*Config), want []string) {
	t.Helper()
	edit(&c)
	err := c.Validate()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("valid configuration refused: %v", err)
		}
		return
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a ConfigError", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q does not say %q", err, w)
		}
	}
}

func loadDefaults(t *testing.T) (Config, error) {
	t.Helper()
	clearEnv(t)
	return Load()
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
