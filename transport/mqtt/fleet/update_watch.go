package fleet

import (
	"strings"
	"sync"
	"time"
)

// updateWatch follows the devices of one update through their messages:
// retained state, availability, the reply to the command and the update
// events. It keeps only the devices asked for; a message about any other
// is dropped before it is read.
type updateWatch struct {
	prefix, version string
	now             func() time.Time

	mu      sync.Mutex
	devs    map[string]*watched
	changes []UpdateStatus // phase changes not yet reported, in order
	// ignored counts messages about watched devices that were too large
	// or not of the expected form.
	ignored uint64
	wake    chan struct{}
}

type watched struct {
	st        UpdateStatus
	state     UpdateState
	haveState bool
	// baseline is the time (the device's clock) of the newest state seen
	// before the command was sent: a state or event from before it is
	// about an earlier update.
	baseline time.Time
	req      Request
	replied  bool
}

func newUpdateWatch(prefix, version string, devices []string, now func() time.Time) *updateWatch {
	u := &updateWatch{prefix: prefix, version: version, now: now, devs: make(map[string]*watched, len(devices)), wake: make(chan struct{}, 1)}
	for _, d := range devices {
		u.devs[d] = &watched{st: UpdateStatus{Device: d, To: version}}
	}
	return u
}

// handle reads one message on topic.
func (u *updateWatch) handle(topic string, payload []byte) {
	rest, ok := strings.CutPrefix(topic, u.prefix+"/")
	if !ok {
		return
	}
	id, sub, ok := strings.Cut(rest, "/")
	if !ok {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	d := u.devs[id]
	if d == nil {
		return
	}
	if len(payload) > MaxUpdatePayload {
		u.ignored++
		return
	}
	now := u.now()
	switch {
	case sub == "availability":
		if off := string(payload) == "offline"; off != d.st.Offline {
			d.st.Offline = off
			u.signal()
		}
	case sub == "state":
		st, err := ParseUpdateState(payload)
		if err != nil {
			u.ignored++
			return
		}
		u.onState(d, st, now)
	case sub == "cmd/update/reply":
		u.onReply(d, payload, now)
	case strings.HasPrefix(sub, "events/"):
		ev, err := ParseUpdateEvent(strings.TrimPrefix(sub, "events/"), payload)
		if err != nil {
			u.ignored++
			return
		}
		u.onEvent(d, ev, now)
	}
}

func (u *updateWatch) onState(d *watched, st UpdateState, now time.Time) {
	if d.st.Sent.IsZero() {
		// Before sending, keep the newest: a retained copy delivered
		// again (a new subscription) is older than a live one.
		if !d.haveState || !st.Time.Before(d.state.Time) {
			d.state, d.haveState = st, true
			d.st.From = st.Version
			u.signal()
		}
		return
	}
	if d.st.Phase.Done() {
		return
	}
	if st.Version == u.version && st.Update != nil {
		up := st.Update
		switch {
		case !up.Trial && up.Last != nil && up.Last.Result == OutcomeCommitted && up.Last.To == u.version:
			u.set(d, UpdateHealthy, "", now)
		case up.Trial:
			// The new version runs, on trial.
			u.advance(d, UpdateRestarting, now)
		}
		return
	}
	// A rollback in a state counts only from an agent started after the
	// command was sent, in a state published after the baseline: an
	// agent that rolled back from the same version in an earlier attempt
	// keeps saying so in every state it publishes.
	if up := st.Update; up != nil && up.Last != nil && up.Last.Result == OutcomeRolledBack && up.Last.To == u.version &&
		st.Time.After(d.baseline) && st.AgentUptime >= 0 && st.AgentUptime < now.Sub(d.st.Sent) {
		u.set(d, UpdateRolledBack, reasonText(up.Last.Reason), now)
	}
}

func (u *updateWatch) onReply(d *watched, payload []byte, now time.Time) {
	if d.st.Sent.IsZero() || d.replied || d.st.Phase.Done() {
		return
	}
	a, ok := answerOf(d.req, payload)
	if !ok {
		return
	}
	d.replied = true
	if !a.OK {
		u.set(d, UpdateRefused, a.Code+": "+reasonText(a.Error), now)
		return
	}
	u.advance(d, UpdateAccepted, now)
}

func (u *updateWatch) onEvent(d *watched, ev UpdateEvent, now time.Time) {
	// The device's clock orders its messages (ours cannot: they are
	// handled concurrently): an event from before the state it had
	// published when the command was sent is about an earlier update.
	if d.st.Sent.IsZero() || d.st.Phase.Done() || !ev.Time.After(d.baseline) {
		return
	}
	switch ev.Kind {
	case EventUpdate:
		if ev.Version != u.version {
			return
		}
		switch ev.Phase {
		case PhaseDownloading:
			u.advance(d, UpdateDownloading, now)
		case PhaseVerifying:
			u.advance(d, UpdateVerifying, now)
		case PhaseRestarting:
			u.advance(d, UpdateRestarting, now)
		}
	case EventUpdateFailed:
		if ev.To == u.version {
			u.set(d, UpdateRolledBack, reasonText(ev.Reason), now)
		}
	case EventUpdateCommitted:
		if ev.To == u.version {
			u.set(d, UpdateHealthy, "", now)
		}
	}
}

// reasonText is the first line of a device's message, bounded, or a
// stand-in for an empty one.
func reasonText(s string) string {
	if s = firstLine(s); s == "" {
		return "(no reason given)"
	}
	return s
}

// advance moves d on to p unless it is there or further already.
func (u *updateWatch) advance(d *watched, p UpdatePhase, now time.Time) {
	if p > d.st.Phase && !d.st.Phase.Done() {
		u.set(d, p, "", now)
	}
}

// set changes d's phase and records the change. Ended updates stay ended.
func (u *updateWatch) set(d *watched, p UpdatePhase, detail string, now time.Time) {
	if d.st.Phase.Done() {
		return
	}
	d.st.Phase, d.st.Detail, d.st.Changed = p, detail, now
	u.changes = append(u.changes, d.st)
	u.signal()
}

func (u *updateWatch) signal() {
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// end sets the phase of a device that is not sent the command, or whose
// update ends on this side (timeout, interruption).
func (u *updateWatch) end(id string, p UpdatePhase, detail string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.set(u.devs[id], p, detail, u.now())
}

// sending records that req is about to be published to id: from now on
// its reply and events are watched.
func (u *updateWatch) sending(id string, req Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	d := u.devs[id]
	d.req = req
	d.baseline = d.state.Time
	now := u.now()
	d.st.Sent = now
	u.set(d, UpdateSent, "", now)
}

// state returns what id's state says, and whether one arrived.
func (u *updateWatch) state(id string) (UpdateState, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	d := u.devs[id]
	return d.state, d.haveState
}

func (u *updateWatch) status(id string) UpdateStatus {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.devs[id].st
}

// expire ends with a timeout every update of ids sent longer than
// timeout ago, and returns how many of ids are sent and not done.
func (u *updateWatch) expire(ids []string, timeout time.Duration) (running int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := u.now()
	for _, id := range ids {
		d := u.devs[id]
		if d.st.Sent.IsZero() || d.st.Phase.Done() {
			continue
		}
		if now.Sub(d.st.Sent) >= timeout {
			u.set(d, UpdateTimedOut, d.st.Phase.String(), now)
			continue
		}
		running++
	}
	return running
}

// report returns the changes since the last call and every device's
// status, by id.
func (u *updateWatch) report(ids []string) (changes, all []UpdateStatus) {
	u.mu.Lock()
	defer u.mu.Unlock()
	changes, u.changes = u.changes, nil
	all = make([]UpdateStatus, len(ids))
	for i, id := range ids {
		all[i] = u.devs[id].st
	}
	return changes, all
}

// haveStates reports whether every device's state arrived.
func (u *updateWatch) haveStates() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, d := range u.devs {
		if !d.haveState {
			return false
		}
	}
	return true
}
