package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/actions"
	"edge-agent/agent/authz"
	"edge-agent/transport/mqtt/bridge"
)

func TestFitJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"hello\n", 64, "hello\n"},
		{"hello\n", 6, "hello"},
		{"\x1b[2J", 7, "\x1b["},        // ESC is six bytes, [ one, 2 would make eight
		{"<b>", 6, "<"},                // json.Marshal writes \u003c
		{"\xff\xfeok", 12, "\xff\xfe"}, // each byte not UTF-8 is \ufffd
		{"héllo", 3, "hé"},             // é is two bytes; never cut inside it
		{"héllo", 2, "h"},
		{"", 0, ""},
		{"a", 0, ""},
	} {
		got, cut := fitJSON(tc.in, tc.max)
		if got != tc.want || cut != int64(len(tc.in)-len(tc.want)) {
			t.Errorf("fitJSON(%q, %d) = %q, %d; want %q", tc.in, tc.max, got, cut, tc.want)
		}
	}
}

// Whatever a script prints, the output as the reply writes it stays within
// max bytes, and is a prefix of what it printed.
func FuzzFitJSON(f *testing.F) {
	for _, s := range []string{"plain", "\x00\x01\x1b[31m", "<&>\u2028", "\xff\xc3", "é\"\\\t"} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		got, cut := fitJSON(s, max)
		if !strings.HasPrefix(s, got) || int64(len(s)-len(got)) != cut {
			t.Fatalf("fitJSON(%q, %d) = %q, %d", s, max, got, cut)
		}
		b, _ := json.Marshal(got)
		if len(b)-2 > max {
			t.Fatalf("fitJSON(%q, %d): %d bytes of JSON", s, max, len(b)-2)
		}
		if cut > 0 && utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("cut inside a character: %q", got)
		}
	})
}

// In broker mode each allowed action is a Home Assistant button; in
// signed mode there are none (a button cannot sign).
func TestActionButtons(t *testing.T) {
	c := testConfig(t)
	c.Actions, c.ActionsAuth = "restart, reboot,poweroff,script:back.up", actions.Broker
	src := &mqttSource{a: New(c, nil)}
	var got []string
	for _, b := range src.Buttons() {
		if err := b.Validate(); err != nil {
			t.Error(err)
		}
		got = append(got, b.Key+"="+b.Command+" "+b.DeviceClass)
	}
	if want := "restart=cmd/restart restart|reboot=cmd/reboot restart|poweroff=cmd/poweroff |script_back_up=cmd/script:back.up "; strings.Join(got, "|") != want {
		t.Errorf("buttons %q, want %q", strings.Join(got, "|"), want)
	}
	c.ActionsAuth = actions.Signed
	if b := (&mqttSource{a: New(c, nil)}).Buttons(); len(b) != 0 {
		t.Errorf("buttons in signed mode: %+v", b)
	}
}

// The restart action stops Run, which returns ErrRestart, once the
// action has returned (so its reply can go out); it is recorded as an
// event.
func TestRestartActionEndsRunWithErrRestart(t *testing.T) {
	c := testConfig(t)
	c.Actions, c.ActionsAuth = "restart", actions.Broker
	a := New(c, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for a.Status().Started.IsZero() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	res, err := a.actions.Handle(ctx, "restart", []byte("PRESS"), false)
	if err != nil || res.(actions.Result).By != actions.ByBroker {
		t.Fatalf("restart: %+v, %v", res, err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrRestart) {
			t.Fatalf("Run returned %v, want ErrRestart", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after restart")
	}
	events, _ := a.Events(0)
	if len(events) != 1 || events[0].Kind != "action" || !events[0].Data.(actionEvent).OK {
		t.Errorf("events %+v", events)
	}
	// Run's own context ended normally gives nil, not ErrRestart.
	a = New(c, nil)
	stop := start(t, a)
	if err := stop(); err != nil {
		t.Errorf("a stop: %v", err)
	}
}

// A refusal names the key and counter the request claims, so its sender
// can match it; refusals anyone can provoke are counted, not recorded as
// events, while a replay of a validly signed request is.
func TestRefusalsNameTheirClaims(t *testing.T) {
	signer, err := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "authorized_keys")
	os.WriteFile(keys, []byte(strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))+" op@laptop\n"), 0o644)
	t.Setenv("STATE_DIRECTORY", t.TempDir())
	c := testConfig(t)
	c.Echo.Addr, c.NTP.Addr, c.Time.Addr, c.File.Addr = Off, Off, Off, Off
	c.Actions, c.ActionsAuthorizedKeys, c.DeviceID = "script:none", keys, "pi-c"
	c.ActionsDir, c.ActionsMaxOutput = t.TempDir(), 1024
	a := New(c, nil)
	start(t, a)
	fp := ssh.FingerprintSHA256(signer.PublicKey())
	sign := func(action string, counter uint64) []byte {
		p, err := authz.Sign(authz.Command{Device: "pi-c", Action: action, Counter: counter}, signer)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		action  string
		payload []byte
		code    string
		counter uint64
		event   bool
	}{
		{"reboot", sign("reboot", 7), "not_allowed", 7, false},
		{"script:none", []byte("PRESS"), "malformed", 0, false},
		{"script:none", sign("script:none", 8), "failed", 8, true}, // no such script: it was authorised
		{"script:none", sign("script:none", 8), "replay", 8, true},
	} {
		before, _ := a.Events(0)
		res, err := a.actions.Handle(context.Background(), tc.action, tc.payload, false)
		var ae *bridge.ActionError
		if !errors.As(err, &ae) || ae.Code != tc.code || strings.HasPrefix(ae.Error(), tc.code) {
			t.Errorf("%s: error %v, want code %s without it repeated in the message", tc.code, err, tc.code)
		}
		r := res.(actions.Result)
		if r.Counter != tc.counter || (tc.counter != 0) != (r.By == fp) {
			t.Errorf("%s: result %+v, want counter %d by %s", tc.code, r, tc.counter, fp)
		}
		after, _ := a.Events(0)
		if (len(after) > len(before)) != tc.event {
			t.Errorf("%s: events %+v", tc.code, after)
		}
	}
	if d := a.actions.Describe("reboot", sign("reboot", 9)).(actions.Result); d.By != fp || d.Counter != 9 {
		t.Errorf("Describe: %+v", d)
	}
	counters := a.Status().Services
	for _, s := range counters {
		if s.Name == "actions" && (s.Counters["refused_replay"] != 1 || s.Counters["refused_not_allowed"] != 1 || s.Addr != "signed: script:none") {
			t.Errorf("actions status %+v", s)
		}
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("STATE_DIRECTORY"), replayCountersFile)); err != nil {
		t.Errorf("replay counters not in the state directory: %v", err)
	}
}
