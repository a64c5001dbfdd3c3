package actions

import (
	"strings"
	"testing"

	"edge-agent/agent/authz"
)

func TestParseAction(t *testing.T) {
	for in, want := range map[string]string{
		"restart": "", "reboot": "", "poweroff": "",
		"script:backup": "backup", "script:a.b-c_D9": "a.b-c_D9",
		"script:" + strings.Repeat("x", 64): strings.Repeat("x", 64),
	} {
		if got, err := ParseAction(in); err != nil || got != want {
			t.Errorf("ParseAction(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{
		"", "Reboot", "reboot ", "shutdown", "script:", "script:.hidden", "script:..", "script:.",
		"script:a/b", "script:../x", "script:a b", "script:a\x00", "script:é", "script:a:b",
		"script:" + strings.Repeat("x", 65), "scripts:x", "script", "/bin/sh",
	} {
		if _, err := ParseAction(in); err == nil {
			t.Errorf("ParseAction(%q) accepted", in)
		}
	}
}

func TestAuthText(t *testing.T) {
	for _, a := range []Auth{Signed, Broker} {
		b, err := a.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Auth
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("%v: %s -> %v %v", a, b, back, err)
		}
	}
	var a Auth
	if err := a.UnmarshalText([]byte("none")); err == nil || !strings.Contains(err.Error(), "signed, broker") {
		t.Errorf("UnmarshalText(none): %v", err)
	}
	if Auth(7).String() != "Auth(7)" {
		t.Error(Auth(7).String())
	}
	if _, err := Auth(7).MarshalText(); err == nil {
		t.Error("MarshalText(7)")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	r := newRunner(t, Config{})
	if _, err := handle(t, r, "reboot", nil); !strings.Contains(err.Error(), "none (EDGE_ACTIONS is empty)") {
		t.Errorf("zero Config's refusal: %v", err)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Allowed: []string{"reboot", "script:../x"}, Auth: Broker}, `"script:../x": a script name`},
		{Config{Allowed: []string{"shutdown"}, Auth: Broker}, `"shutdown" is not an action`},
		{Config{Allowed: []string{"restart"}, Auth: Broker}, "no way to restart"},
		{Config{Allowed: []string{"reboot"}, DeviceID: device}, "need authorized keys"},
		{Config{Allowed: []string{"reboot"}, Verifier: authz.NewVerifier(nil, nil)}, "need the device id"},
		{Config{Allowed: []string{"script:x"}, Dir: "actions.d", Auth: Broker}, "not an absolute path"},
		{Config{Auth: 5}, "auth Auth(5)"},
		{Config{ScriptTimeout: -1}, "negative"},
		{Config{MaxOutput: MaxMaxOutput + 1}, "max output"},
		{Config{Allowed: make([]string, MaxAllowed+1), Auth: Broker}, "over the limit of 64"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
		}
		if _, err := New(c.cfg); err == nil {
			t.Errorf("New(%+v) accepted", c.cfg)
		}
	}
}
