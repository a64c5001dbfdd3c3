package fleet

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// progressLog keeps what Update reports, for a test to wait on.
type progressLog struct {
	mu      sync.Mutex
	changes []UpdateStatus
	calls   int
}

func (p *progressLog) progress(changes, _ []UpdateStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.changes = append(p.changes, changes...)
	p.calls++
}

func (p *progressLog) reached(id string, ph UpdatePhase) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.changes {
		if c.Device == id && c.Phase == ph {
			return true
		}
	}
	return false
}

// A device taken through each phase, one message at a time: each phase
// is reported once, in order, and printed as a line of its own (the
// output when stdout is not a terminal), then the table.
func TestUpdatePhasesInOrder(t *testing.T) {
	m := testenv.StartMosquitto(t)
	cmds := make(chan testCommand, 1)
	s := newStandIn(t, m.URL, func(_ *standIn, _ string, cmd testCommand) { cmds <- cmd })
	s.state("pi-1", deviceState("v1", "arm64", time.Now().Add(-time.Minute), 60, updates(nil)))
	s.online("pi-1", true)
	w := watchBroker(t, m.URL)
	var log progressLog
	var out bytes.Buffer
	view := &UpdateView{W: &out}
	opt := testOptions("pi-1")
	opt.Progress = func(changes, all []UpdateStatus) {
		log.progress(changes, all)
		view.Progress(changes, all)
	}
	done := make(chan UpdateResult, 1)
	go func() {
		res, err := w.Update(context.Background(), opt)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	cmd := <-cmds
	testenv.WaitFor(t, "sent", func() bool { return log.reached("pi-1", UpdateSent) })
	s.reply("pi-1", cmd, true, "", "")
	testenv.WaitFor(t, "accepted", func() bool { return log.reached("pi-1", UpdateAccepted) })
	for _, step := range []struct {
		phase string
		want  UpdatePhase
	}{{PhaseDownloading, UpdateDownloading}, {PhaseVerifying, UpdateVerifying}, {PhaseRestarting, UpdateRestarting}} {
		s.event("pi-1", EventUpdate, time.Now(), map[string]any{"phase": step.phase, "version": "v2"})
		testenv.WaitFor(t, step.phase, func() bool { return log.reached("pi-1", step.want) })
	}
	s.online("pi-1", false)
	s.event("pi-1", EventUpdateCommitted, time.Now(), map[string]any{"from": "v1", "to": "v2"})
	res := <-done
	view.Final(res.Statuses)

	var phases []UpdatePhase
	for _, c := range log.changes {
		phases = append(phases, c.Phase)
	}
	if want := []UpdatePhase{UpdateSent, UpdateAccepted, UpdateDownloading, UpdateVerifying, UpdateRestarting, UpdateHealthy}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	lines := strings.Split(out.String(), "\n")
	for i, want := range []string{"pi-1: sent (", "pi-1: accepted (", "pi-1: downloading (", "pi-1: verifying (", "pi-1: restarting (", "pi-1: healthy (",
		"DEVICE  VERSION  STATE    TIME", "pi-1    v1 → v2  healthy  "} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d is not %q...:\n%s", i, want, out.String())
			break
		}
	}
	if !strings.HasSuffix(lines[0], "s)") {
		t.Errorf("no duration on %q", lines[0])
	}
}

// At most MaxUpdatesAtOnce devices update at once: the stand-in holds
// every answer until that many commands came, so a lower bound would
// never finish and a higher one would overlap more.
func TestUpdateBoundsUpdatesAtOnce(t *testing.T) {
	m := testenv.StartMosquitto(t)
	var mu sync.Mutex
	var held []func()
	released := false
	s := newStandIn(t, m.URL, func(s *standIn, id string, cmd testCommand) {
		mu.Lock()
		if released {
			mu.Unlock()
			healthy(s, id, cmd)
			return
		}
		held = append(held, func() { healthy(s, id, cmd) })
		if len(held) < MaxUpdatesAtOnce {
			mu.Unlock()
			return
		}
		released = true
		mu.Unlock()
		for _, f := range held {
			f()
		}
	})
	var ids []string
	for i := range MaxUpdatesAtOnce + 4 {
		id := fmt.Sprintf("d%02d", i)
		ids = append(ids, id)
		s.state(id, deviceState("v1", "arm64", time.Now().Add(-time.Minute), 60, updates(nil)))
	}
	w := watchBroker(t, m.URL)
	res, err := w.Update(context.Background(), testOptions(ids...))
	if err != nil {
		t.Fatal(err)
	}
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, st := range res.Statuses {
		if st.Phase != UpdateHealthy {
			t.Errorf("%s: %s", st.Device, st.State())
		}
		edges = append(edges, edge{st.Sent, 1}, edge{st.Changed, -1})
	}
	// Ends before starts at the same instant: one device's end lets the
	// next one start.
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	most, now := 0, 0
	for _, e := range edges {
		now += e.delta
		most = max(most, now)
	}
	if most != MaxUpdatesAtOnce {
		t.Errorf("at most %d updates ran at once, want %d", most, MaxUpdatesAtOnce)
	}
}

// Messages over MaxUpdatePayload or not of the expected form are
// ignored and counted; a device that does not answer times out in the
// phase it reached.
func TestUpdateIgnoresOversizeAndMalformed(t *testing.T) {
	m := testenv.StartMosquitto(t)
	s := newStandIn(t, m.URL, func(s *standIn, id string, cmd testCommand) {
		s.pub("edge/"+id+"/events/update_committed", false, `{"kind":"update_committed","time":"2030-01-01T00:00:00Z","data":{"to":"v2"},"pad":"`+strings.Repeat("x", MaxUpdatePayload)+`"}`)
		s.pub("edge/"+id+"/state", false, `{"version":"v2","update":{"enabled":"yes"}}`)
		s.pub("edge/"+id+"/events/update", false, `{"kind":"update","data":{"phase":"dancing","version":"v2"}}`)
	})
	s.state("pi", deviceState("v1", "arm64", time.Now(), 60, updates(nil)))
	w := watchBroker(t, m.URL)
	opt := testOptions("pi")
	opt.Timeout = 500 * time.Millisecond
	res, err := w.Update(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, byDevice(t, res), map[string]string{"pi": "timed out in sent"})
	if res.Ignored != 3 {
		t.Errorf("%d messages ignored, want 3", res.Ignored)
	}
}

// When the command is interrupted, the updates under way end as stopped
// in their phase, and the ones not sent yet (after a canary, here) as
// stopped in queued.
func TestUpdateStopped(t *testing.T) {
	m := testenv.StartMosquitto(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newStandIn(t, m.URL, func(s *standIn, id string, cmd testCommand) {
		s.reply(id, cmd, true, "", "")
	})
	s.state("a", deviceState("v1", "arm64", time.Now(), 60, updates(nil)))
	s.state("b", deviceState("v1", "arm64", time.Now(), 60, updates(nil)))
	w := watchBroker(t, m.URL)
	opt := testOptions("a", "b")
	opt.Canary = 1
	opt.Progress = func(changes, _ []UpdateStatus) {
		for _, c := range changes {
			if c.Phase == UpdateAccepted {
				cancel()
			}
		}
	}
	res, err := w.Update(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, byDevice(t, res), map[string]string{"a": "stopped in accepted", "b": "stopped in queued"})
}
