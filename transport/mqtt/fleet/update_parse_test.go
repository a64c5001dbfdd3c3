package fleet

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseUpdateState(t *testing.T) {
	st, err := ParseUpdateState([]byte(`{"time":"2025-12-01T10:00:00Z","device_id":"pi-1","version":"v1.2","agent_uptime_s":12.5,
		"goos":"linux","goarch":"arm","goarm":"6","uptime_s":99,"services":{},
		"update":{"enabled":true,"slot":"b","previous_version":"v1.1","trial":false,
		"last":{"from":"v1.1","to":"v1.2","result":"committed","reason":""},"extra":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := UpdateState{Time: time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC), Version: "v1.2", GOOS: "linux", GOARCH: "arm", GOARM: "6", AgentUptime: 12500 * time.Millisecond}
	up := st.Update
	st.Update = nil
	if !st.Time.Equal(want.Time) || st.Version != want.Version || st.GOOS != want.GOOS || st.GOARCH != want.GOARCH || st.GOARM != want.GOARM || st.AgentUptime != want.AgentUptime {
		t.Errorf("state %+v, want %+v", st, want)
	}
	if up == nil || !up.Enabled || up.Slot != "b" || up.PreviousVersion != "v1.1" || up.Trial || up.Last == nil || *up.Last != (UpdateOutcome{From: "v1.1", To: "v1.2", Result: OutcomeCommitted}) {
		t.Errorf("update section %+v", up)
	}
	// An agent older than updates: no section, no uptime.
	st, err = ParseUpdateState([]byte(`{"version":"v0.9","update":null}`))
	if err != nil || st.Update != nil || st.AgentUptime != -1 {
		t.Errorf("old agent: %+v %v", st, err)
	}
}

func TestParseUpdateStateRefuses(t *testing.T) {
	for name, payload := range map[string]string{
		"empty":              ``,
		"not JSON":           `online`,
		"array":              `[1,2]`,
		"null":               `null`,
		"no version":         `{"goos":"linux"}`,
		"version not string": `{"version":1}`,
		"bad time":           `{"version":"v1","time":"yesterday"}`,
		"negative uptime":    `{"version":"v1","agent_uptime_s":-1}`,
		"huge uptime":        `{"version":"v1","agent_uptime_s":1e300}`,
		"update not object":  `{"version":"v1","update":"on"}`,
		"enabled not bool":   `{"version":"v1","update":{"enabled":"yes"}}`,
		"last not object":    `{"version":"v1","update":{"enabled":true,"last":[]}}`,
		"truncated":          `{"version":"v1","update":{"enabled":true`,
		"too large":          `{"version":"v1","pad":"` + strings.Repeat("x", MaxUpdatePayload) + `"}`,
	} {
		if st, err := ParseUpdateState([]byte(payload)); !errors.Is(err, ErrUpdateMessage) {
			t.Errorf("%s: %+v %v, want ErrUpdateMessage", name, st, err)
		}
	}
}

func TestParseUpdateEvent(t *testing.T) {
	for _, tc := range []struct {
		kind, payload string
		want          UpdateEvent
	}{
		{EventUpdate, `{"time":"2025-12-01T10:00:00Z","kind":"update","data":{"phase":"downloading","version":"v2"}}`,
			UpdateEvent{Time: time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC), Kind: EventUpdate, Phase: PhaseDownloading, Version: "v2"}},
		{EventUpdateFailed, `{"kind":"update_failed","data":{"from":"v1","to":"v2","reason":"health: broker not reached"}}`,
			UpdateEvent{Kind: EventUpdateFailed, From: "v1", To: "v2", Reason: "health: broker not reached"}},
		{EventUpdateCommitted, `{"kind":"update_committed","data":{"from":"v1","to":"v2"}}`,
			UpdateEvent{Kind: EventUpdateCommitted, From: "v1", To: "v2"}},
	} {
		ev, err := ParseUpdateEvent(tc.kind, []byte(tc.payload))
		if err != nil || !ev.Time.Equal(tc.want.Time) {
			t.Errorf("%s: %+v %v", tc.payload, ev, err)
			continue
		}
		ev.Time = tc.want.Time
		if ev != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.payload, ev, tc.want)
		}
	}
}

func TestParseUpdateEventRefuses(t *testing.T) {
	for _, tc := range []struct{ name, kind, payload string }{
		{"empty", EventUpdate, ``},
		{"not JSON", EventUpdate, `downloading`},
		{"null", EventUpdate, `null`},
		{"kind of another topic", EventUpdateCommitted, `{"kind":"update_failed","data":{"to":"v2"}}`},
		{"no kind", EventUpdate, `{"data":{"phase":"downloading","version":"v2"}}`},
		{"not an update kind", "action", `{"kind":"action","data":{"to":"v2"}}`},
		{"no data", EventUpdate, `{"kind":"update"}`},
		{"data null", EventUpdate, `{"kind":"update","data":null}`},
		{"data not object", EventUpdate, `{"kind":"update","data":"downloading"}`},
		{"unknown phase", EventUpdate, `{"kind":"update","data":{"phase":"dancing","version":"v2"}}`},
		{"phase without version", EventUpdate, `{"kind":"update","data":{"phase":"verifying"}}`},
		{"failed without to", EventUpdateFailed, `{"kind":"update_failed","data":{"from":"v1","reason":"x"}}`},
		{"committed without to", EventUpdateCommitted, `{"kind":"update_committed","data":{}}`},
		{"to not string", EventUpdateCommitted, `{"kind":"update_committed","data":{"to":2}}`},
		{"bad time", EventUpdateCommitted, `{"time":1,"kind":"update_committed","data":{"to":"v2"}}`},
		{"too large", EventUpdateFailed, `{"kind":"update_failed","data":{"to":"v2","reason":"` + strings.Repeat("x", MaxUpdatePayload) + `"}}`},
	} {
		if ev, err := ParseUpdateEvent(tc.kind, []byte(tc.payload)); !errors.Is(err, ErrUpdateMessage) {
			t.Errorf("%s: %+v %v, want ErrUpdateMessage", tc.name, ev, err)
		}
	}
}

// Whatever a device (or anyone who may publish under its topics) sends
// as its state, reading it fails cleanly or gives a state with a version
// and an uptime that is unknown or not negative.
func FuzzParseUpdateState(f *testing.F) {
	f.Add([]byte(`{"time":"2025-12-01T10:00:00Z","version":"v1","goos":"linux","goarch":"arm","goarm":"7","agent_uptime_s":3,"update":{"enabled":true,"trial":true,"last":{"to":"v1","result":"rolled_back","reason":"x"}}}`))
	f.Add([]byte(`{"version":"v1","update":null}`))
	f.Add([]byte(`{"version":"v1","agent_uptime_s":9.3e9}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		st, err := ParseUpdateState(payload)
		if err != nil {
			if !errors.Is(err, ErrUpdateMessage) {
				t.Fatalf("error %v is not ErrUpdateMessage", err)
			}
			return
		}
		if len(payload) > MaxUpdatePayload || st.Version == "" || st.AgentUptime < -1 {
			t.Fatalf("ParseUpdateState(%q) = %+v", payload, st)
		}
	})
}

// Whatever arrives on an update event topic, reading it fails cleanly or
// gives an event of that topic's kind with what the kind needs.
func FuzzParseUpdateEvent(f *testing.F) {
	f.Add(EventUpdate, []byte(`{"kind":"update","data":{"phase":"restarting","version":"v2"}}`))
	f.Add(EventUpdateFailed, []byte(`{"time":"2025-12-01T10:00:00Z","kind":"update_failed","data":{"from":"v1","to":"v2","reason":"r"}}`))
	f.Add(EventUpdateCommitted, []byte(`{"kind":"update_committed","data":{"to":"v2"}}`))
	f.Fuzz(func(t *testing.T, kind string, payload []byte) {
		ev, err := ParseUpdateEvent(kind, payload)
		if err != nil {
			if !errors.Is(err, ErrUpdateMessage) {
				t.Fatalf("error %v is not ErrUpdateMessage", err)
			}
			return
		}
		ok := ev.Kind == kind && len(payload) <= MaxUpdatePayload
		switch kind {
		case EventUpdate:
			ok = ok && ev.Version != "" && (ev.Phase == PhaseDownloading || ev.Phase == PhaseVerifying || ev.Phase == PhaseRestarting)
		case EventUpdateFailed, EventUpdateCommitted:
			ok = ok && ev.To != ""
		default:
			ok = false
		}
		if !ok {
			t.Fatalf("ParseUpdateEvent(%q, %q) = %+v", kind, payload, ev)
		}
	})
}

// Whatever messages arrive in whatever order, a watched update's phase
// never goes back, an ended one stays ended, and what is shown of a
// device's text is bounded.
func FuzzUpdateWatch(f *testing.F) {
	f.Add(uint8(2), []byte(`{"ok":true,"result":{"by":"SHA256:me","counter":7}}`), uint8(4), []byte(`{"time":"2030-01-01T00:00:00Z","kind":"update","data":{"phase":"verifying","version":"v2"}}`))
	f.Add(uint8(0), []byte(`{"time":"2030-01-01T00:00:00Z","version":"v1","agent_uptime_s":0,"update":{"enabled":true,"last":{"to":"v2","result":"rolled_back","reason":"r"}}}`), uint8(5), []byte(`{"kind":"update_failed","data":{"to":"v2","reason":"x"}}`))
	topics := []string{"state", "availability", "cmd/update/reply", "events/update", "events/update", "events/update_failed", "events/update_committed"}
	f.Fuzz(func(t *testing.T, t1 uint8, p1 []byte, t2 uint8, p2 []byte) {
		clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		u := newUpdateWatch("edge", "v2", []string{"d"}, func() time.Time { clock = clock.Add(time.Second); return clock })
		u.handle("edge/d/state", []byte(`{"time":"2025-01-01T00:00:00Z","version":"v1","agent_uptime_s":100,"update":{"enabled":true}}`))
		u.sending("d", Request{Device: "d", Counter: 7, By: "SHA256:me"})
		last := u.status("d")
		for _, m := range []struct {
			t uint8
			p []byte
		}{{t1, p1}, {t2, p2}, {t1, p1}} {
			u.handle("edge/d/"+topics[int(m.t)%len(topics)], m.p)
			st := u.status("d")
			if st.Phase < last.Phase || last.Phase.Done() && (st.Phase != last.Phase || st.Detail != last.Detail) || len(st.Detail) > MaxFirstLine+64 {
				t.Fatalf("after %q on %s: %+v, before %+v", m.p, topics[int(m.t)%len(topics)], st, last)
			}
			last = st
		}
	})
}

func TestReasonTextIsOneBoundedLine(t *testing.T) {
	if got := reasonText("a\nb"); got != "a" {
		t.Errorf("reasonText: %q", got)
	}
	if got := reasonText(""); got != "(no reason given)" {
		t.Errorf("reasonText of nothing: %q", got)
	}
	if got := reasonText(strings.Repeat("é", MaxFirstLine)); len(got) > MaxFirstLine {
		t.Errorf("reasonText of a long reason: %d bytes", len(got))
	}
}
