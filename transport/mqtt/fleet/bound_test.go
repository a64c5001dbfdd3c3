package fleet

import (
	"fmt"
	"testing"
)

// message is what paho hands a handler; only topic and payload matter here.
type message struct {
	topic   string
	payload []byte
}

func (m message) Duplicate() bool   { return false }
func (m message) Qos() byte         { return 1 }
func (m message) Retained() bool    { return true }
func (m message) Topic() string     { return m.topic }
func (m message) MessageID() uint16 { return 0 }
func (m message) Payload() []byte   { return m.payload }
func (m message) Ack()              {}

// Retained messages under made-up ids cannot grow the listing without end.
func TestWatcherKeepsAtMostMaxDevices(t *testing.T) {
	w := &Watcher{prefix: "edge", devices: map[string]*Device{}, ignored: map[string]bool{}, changed: make(chan struct{}, 1)}
	for i := range MaxDevices + 50 {
		w.onMessage(nil, message{topic: fmt.Sprintf("edge/dev%d/availability", i), payload: []byte("online")})
	}
	// A device already listed keeps being updated.
	w.onMessage(nil, message{topic: "edge/dev0/availability", payload: []byte("offline")})
	devices := w.Devices()
	if len(devices) != MaxDevices || w.Ignored() != 50 {
		t.Fatalf("%d devices kept, %d ignored; want %d and 50", len(devices), w.Ignored(), MaxDevices)
	}
	for _, d := range devices {
		if d.ID == "dev0" && d.Online {
			t.Error("dev0 still online after its offline message")
		}
	}
}
