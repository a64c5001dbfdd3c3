package actions

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"edge-agent/agent/authz"
	"edge-agent/internal/sshtest"
)

// Signed mode with commands signed by ssh-keygen, as an operator does by
// hand: the right one runs, each wrong one is refused with its code.
func TestHandleSigned(t *testing.T) {
	s := newSigned(t)
	log, logs := logBuffer()
	dir := scriptDir(t, map[string]string{"say": `printf '%s|' "$@"`})
	var restarts atomic.Int32
	r := newRunner(t, Config{
		Allowed:  []string{"script:say", "restart"},
		Dir:      dir,
		Verifier: s.verifier,
		DeviceID: device,
		Logger:   log,
		Restart:  func() error { restarts.Add(1); return nil },
	})

	res, err := handle(t, r, "script:say", s.payload(t, "script:say", "hello world", "$(id)", "; rm -rf /"))
	if err != nil {
		t.Fatal(err)
	}
	fp := s.verifier.Keys().List()[0].Fingerprint
	if res.Output != "hello world|$(id)|; rm -rf /|" || res.By != fp || res.Key != "op@laptop" || res.Counter != s.next || res.ExitCode != 0 || res.Duration <= 0 {
		t.Fatalf("result %+v", res)
	}
	if n := countLines(logs, `msg=action action=script:say by=`+fp+` key=op@laptop`); n != 1 {
		t.Errorf("%d log lines naming the key:\n%s", n, logs.String())
	}
	if _, err := handle(t, r, "restart", s.payload(t, "restart")); err != nil || restarts.Load() != 1 {
		t.Fatalf("restart: %v, %d restarts", err, restarts.Load())
	}

	stranger := sshtest.NewKey(t, "ed25519", "mallory")
	replayed := s.payload(t, "script:say", "again")
	if _, err := handle(t, r, "script:say", replayed); err != nil {
		t.Fatal(err)
	}
	c := s.next + 1
	for _, tc := range []struct {
		name    string
		action  string
		payload []byte
		want    authz.Reason
	}{
		{"unsigned", "script:say", []byte("PRESS"), authz.Malformed},
		{"empty", "script:say", nil, authz.Malformed},
		{"unlisted key", "script:say", s.payloadWith(t, stranger, authz.Command{Device: device, Action: "script:say", Counter: c}), authz.UnknownKey},
		{"replay", "script:say", replayed, authz.Replay},
		{"wrong device", "script:say", s.payloadWith(t, s.key, authz.Command{Device: "pi-2", Action: "script:say", Counter: c}), authz.WrongDevice},
		{"wrong action", "script:say", s.payloadWith(t, s.key, authz.Command{Device: device, Action: "restart", Counter: c}), authz.WrongAction},
		{"args to restart", "restart", s.payloadWith(t, s.key, authz.Command{Device: device, Action: "restart", Args: []string{"now"}, Counter: c}), authz.Malformed},
		{"not allowed", "reboot", s.payloadWith(t, s.key, authz.Command{Device: device, Action: "reboot", Counter: c}), authz.NotAllowed},
		{"not an action", "script:../../bin/sh", []byte("PRESS"), authz.NotAllowed},
	} {
		res, err := handle(t, r, tc.action, tc.payload)
		if authz.ReasonOf(err) != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		var ref *authz.Refusal
		if !errors.As(err, &ref) || ref.Message == "" {
			t.Errorf("%s: %v is not a refusal with a message", tc.name, err)
		}
		if res.Output != "" || res.Action != tc.action {
			t.Errorf("%s: result %+v", tc.name, res)
		}
	}
	// A retained message is never run, even one validly signed.
	_, err = r.Handle(context.Background(), "script:say", s.payload(t, "script:say"), true)
	wantReason(t, err, authz.Retained)
	if restarts.Load() != 1 {
		t.Errorf("%d restarts", restarts.Load())
	}

	want := map[string]uint64{
		"accepted": 3, "runs": 3, "failures": 0, "timeouts": 0,
		"refused_malformed": 3, "refused_unknown_key": 1, "refused_replay": 1, "refused_wrong_device": 1,
		"refused_wrong_action": 1, "refused_not_allowed": 2, "refused_retained": 1, "refused_busy": 0,
	}
	got := r.Counters()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("counter %s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	// Refusals are counted; the log has at most one line per key a
	// minute, and one for all requests without a key.
	if n := countLines(logs, "action refused"); n != 2 {
		t.Errorf("%d refusal lines, want 2 (the key's, the unauthenticated):\n%s", n, logs.String())
	}
}

// Broker mode: a Home Assistant button's "PRESS" runs the action, without
// args; retained and unlisted actions are still refused.
func TestHandleBroker(t *testing.T) {
	dir := scriptDir(t, map[string]string{"count": `echo "$#"`})
	r := newRunner(t, Config{Allowed: []string{"script:count"}, Dir: dir, Auth: Broker})
	res, err := handle(t, r, "script:count", []byte("PRESS"))
	if err != nil || res.Output != "0\n" || res.By != ByBroker || res.Key != "" {
		t.Fatalf("PRESS: %+v %v", res, err)
	}
	signedArgs := []byte(`{"command":"{\"device\":\"pi-1\",\"action\":\"script:count\",\"args\":[\"a\"],\"counter\":1}","signature":"x"}`)
	if res, err := handle(t, r, "script:count", signedArgs); err != nil || res.Output != "0\n" {
		t.Errorf("payload not ignored: %+v %v", res, err)
	}
	_, err = r.Handle(context.Background(), "script:count", []byte("PRESS"), true)
	wantReason(t, err, authz.Retained)
	_, err = handle(t, r, "reboot", nil)
	wantReason(t, err, authz.NotAllowed)
	b, _ := json.Marshal(res)
	if !strings.Contains(string(b), `"by":"broker"`) {
		t.Errorf("JSON %s", b)
	}
}
