package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	paho "github.com/eclipse/paho.mqtt.golang"

	"edge-agent/transport/testenv"
)

// A broker that stops reading while the agent has plenty to send (a
// chatty microcontroller, state every second) must not hold up a stop:
// on SIGTERM the agent exits 0 within the 10 s grace.
func TestHardeningStopWithAStalledBroker(t *testing.T) {
	m := testenv.StartMosquitto(t)
	proxy := testenv.StartProxy(t, m.Addr)

	// The microcontroller: a pseudo-terminal behind a stable name.
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	port := filepath.Join(t.TempDir(), "ttyMCU")
	if err := os.Symlink(slave.Name(), port); err != nil {
		t.Fatal(err)
	}

	states := make(chan paho.Message, 64)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(m.URL).SetClientID("hardening-stop-watch"))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { sub.Disconnect(100) })
	if tok := sub.Subscribe("edge/stall/state", 1, func(_ paho.Client, msg paho.Message) {
		select {
		case states <- msg:
		default:
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	cmd := command(context.Background(), []string{"EDGE_MQTT_URL=" + proxy.URL(), "EDGE_DEVICE_ID=stall",
		"EDGE_MQTT_INTERVAL=1s", "EDGE_FIRMWARE_PORT=" + port, "EDGE_FIRMWARE_MAX_FRAME=16384",
		"EDGE_ECHO_ADDR=off", "EDGE_NTP_ADDR=off", "EDGE_TIME_ADDR=off"}, "run")
	startCommand(t, cmd, "mqtt", "firmware")
	// Connected, and the port open.
	deadline := time.After(15 * time.Second)
	for up := false; !up; {
		select {
		case msg := <-states:
			var doc struct {
				Services map[string]struct {
					Counters map[string]uint64 `json:"counters"`
				} `json:"services"`
			}
			json.Unmarshal(msg.Payload(), &doc)
			up = doc.Services["firmware"].Counters["link_up"] == 1
		case <-deadline:
			t.Fatal("no state with the firmware link up")
		}
	}

	proxy.Stall()
	// 16 KiB lines for the agent to forward, until the socket is full;
	// bounded in count (64 MiB) and time.
	stop := make(chan struct{})
	var lines atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		line := []byte(strings.Repeat("x", 16<<10-1) + "\n")
		for range 4096 {
			select {
			case <-stop:
				return
			default:
			}
			master.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := master.Write(line); err != nil {
				return
			}
			lines.Add(1)
		}
	})
	stopLines := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopLines()
	// On loopback bytes stay unsent only once the stalled proxy's receive
	// buffer is full: any is proof of the stall. Waiting for more could
	// outlast the bridge's 3 s write timeout, after which it reconnects.
	queued := proxy.WaitQueued(t, 1, nil)
	stopLines()
	t.Logf("socket stuck: %d bytes queued after %d lines of 16 KiB", queued, lines.Load())

	sent := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(sent)
		t.Logf("exited %v after SIGTERM (grace %v)", took.Round(time.Millisecond), stopGrace)
		if err != nil {
			t.Fatalf("exit after %v: %v, want status 0", took, err)
		}
		if took >= stopGrace {
			t.Errorf("took %v, want within the %v grace", took, stopGrace)
		}
	case <-time.After(stopGrace + 5*time.Second):
		t.Fatalf("still running %v after SIGTERM", stopGrace+5*time.Second)
	}
}
