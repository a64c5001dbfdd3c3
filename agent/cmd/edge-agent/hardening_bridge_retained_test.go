package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// hardeningClient is a test's own MQTT client on a broker, with the
// messages of its subscriptions in a channel.
type hardeningClient struct {
	c    paho.Client
	msgs chan paho.Message
}

func newHardeningClient(t *testing.T, url string, topics ...string) *hardeningClient {
	t.Helper()
	h := &hardeningClient{msgs: make(chan paho.Message, 256)}
	h.c = paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("hardening-" + time.Now().Format("150405.000000000")))
	if tok := h.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { h.c.Disconnect(100) })
	for _, topic := range topics {
		if tok := h.c.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) { h.msgs <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", topic, tok.Error())
		}
	}
	return h
}

func (h *hardeningClient) publish(t *testing.T, topic string, retained bool, payload string) {
	t.Helper()
	if tok := h.c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// next returns the next message; it fails the test after 15 seconds.
func (h *hardeningClient) next(t *testing.T) paho.Message {
	t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("no message within 15s")
		return nil
	}
}

// awaitPayload skips messages until one on topic with payload.
func (h *hardeningClient) awaitPayload(t *testing.T, topic, payload string) {
	t.Helper()
	for {
		if m := h.next(t); m.Topic() == topic && string(m.Payload()) == payload {
			return
		}
	}
}

// Retained messages on firmware/tx and cmd/ (a mosquitto_pub -r, a Home
// Assistant button set to retain) never reach the microcontroller and
// never run, neither when the agent connects nor when it reconnects after
// a cut; live ones do.
func TestHardeningRetainedCommandsAreNotRun(t *testing.T) {
	m := testenv.StartMosquitto(t)
	proxy := testenv.StartProxy(t, m.Addr)
	port := filepath.Join(t.TempDir(), "ttyMCU")
	cab := testenv.Plug(t, port)

	h := newHardeningClient(t, m.URL, "edge/relay/availability", "edge/relay/cmd/+/reply")
	h.publish(t, "edge/relay/firmware/tx", true, "relay on")
	h.publish(t, "edge/relay/cmd/ping", true, "")

	cmd := command(context.Background(), []string{"EDGE_MQTT_URL=" + proxy.URL(), "EDGE_DEVICE_ID=relay",
		"EDGE_FIRMWARE_PORT=" + port, "EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	startCommand(t, cmd, "mqtt", "firmware")
	h.awaitPayload(t, "edge/relay/availability", "online")
	h.publish(t, "edge/relay/firmware/tx", false, "first live")
	if got := cab.Expect("first live\n"); got != "first live\n" {
		t.Errorf("the microcontroller got %q, want only the live message", got)
	}

	proxy.Cut()
	h.awaitPayload(t, "edge/relay/availability", "offline") // the Last Will
	h.awaitPayload(t, "edge/relay/availability", "online")
	h.publish(t, "edge/relay/firmware/tx", false, "second live")
	if got := cab.Expect("second live\n"); got != "second live\n" {
		t.Errorf("after the reconnection the microcontroller got %q, want only the live message", got)
	}

	// Commands are answered in order: a retained ping run at either
	// connection would be answered before the live one, and all before
	// the services command that follows.
	h.publish(t, "edge/relay/cmd/ping", false, "")
	h.publish(t, "edge/relay/cmd/services", false, "")
	pings := 0
	for {
		msg := h.next(t)
		if msg.Topic() == "edge/relay/cmd/ping/reply" {
			pings++
		}
		if msg.Topic() == "edge/relay/cmd/services/reply" {
			break
		}
	}
	if pings != 1 {
		t.Errorf("%d ping replies, want 1 (the live ping's)", pings)
	}
}
