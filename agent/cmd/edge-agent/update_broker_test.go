package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// In broker mode Home Assistant installs an update: its update entity
// shows the version on offer (a retained message on update/offer) and
// its Install publishes "install" on cmd/update. The binary is still
// checked against authorized_keys; an offer that cannot be read changes
// nothing, and "install" with nothing on offer is refused.
func TestUpdateInstallFromHomeAssistant(t *testing.T) {
	s := newActionsSetup(t)
	const dev = "pi-ha"
	v2 := buildAgent(t, t.TempDir(), "v2.1.0-test")
	rel := serveOffers(t)
	m := testenv.StartMosquitto(t)
	base := "edge/" + dev
	op := newOperator(t, m.URL, "", "", base+"/cmd/update/reply", base+"/state", base+"/events/+", "homeassistant/device/"+dev+"/config")
	startActionsAgent(t, "EDGE_DEVICE_ID="+dev, "EDGE_UPDATE=on", "EDGE_ACTIONS_AUTH=broker", "EDGE_ACTIONS_AUTHORIZED_KEYS="+s.keysFile,
		"EDGE_MQTT_URL="+m.URL, "EDGE_UPDATE_HEALTH_WINDOW=10s")

	cfg := op.next(t, "homeassistant/device/"+dev+"/config", nil)
	var disc struct {
		Cmps map[string]map[string]any `json:"cmps"`
	}
	json.Unmarshal(cfg.Payload(), &disc)
	u := disc.Cmps["agent_update"]
	if u["p"] != "update" || u["command_topic"] != base+"/cmd/update" || u["payload_install"] != "install" ||
		u["latest_version_topic"] != base+"/update/offer" || u["device_class"] != "firmware" {
		t.Errorf("update entity %v", u)
	}

	press := func() actionReply {
		t.Helper()
		op.publish(t, base+"/cmd/update", false, []byte("install"))
		return op.replyTo(t, dev, "update", 0)
	}
	if r := press(); r.OK || r.Code != "malformed" || !strings.Contains(r.Error, "no update on offer") {
		t.Errorf("install with nothing on offer: %+v", r)
	}
	// An offer of a binary signed by a key the device does not list.
	bad := rel.offer(t, "v2-stranger", v2, s.stranger, "v2.1.0-test")
	offer := func(o offered) {
		op.publish(t, base+"/update/offer", true, []byte(fmt.Sprintf(`{"version":%q,"url":%q,"size":%d,"sha256":%q}`, o.version, o.url, o.size, o.sha)))
	}
	offer(bad)
	testenv.WaitFor(t, "the offer taken", func() bool {
		r := press()
		return r.Code == "unknown_key"
	})
	op.publish(t, base+"/update/offer", true, []byte(`{"version":"v9"}`)) // unreadable: the last good offer stays
	good := rel.offer(t, "v2", v2, s.key, "v2.1.0-test")
	offer(good)
	testenv.WaitFor(t, "the good offer installed", func() bool {
		r := press()
		if r.Code != "" && r.Code != "unknown_key" {
			t.Fatalf("install: %+v", r)
		}
		return r.OK
	})
	st := op.stateWhere(t, dev, func(st deviceState) bool { return st.Version == "v2.1.0-test" && !st.Update.Trial })
	if st.Update.Last == nil || st.Update.Last.Result != "committed" {
		t.Errorf("after the install: %+v", st.Update)
	}
	op.next(t, base+"/events/update_committed", func(m paho.Message) bool { return strings.Contains(string(m.Payload()), "v2.1.0-test") })
	op.publish(t, base+"/update/offer", true, nil)
}
