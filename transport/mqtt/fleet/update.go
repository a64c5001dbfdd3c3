package fleet

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// MaxUpdatesAtOnce bounds the devices whose update runs at the same
// time (sent and not ended): the rest wait their turn, so that a fleet
// does not download from one laptop all at once.
const MaxUpdatesAtOnce = 16

// reportEvery is the shortest time between two calls of Progress.
const reportEvery = 250 * time.Millisecond

// UpdateOptions say what Update does.
type UpdateOptions struct {
	// Devices are the ids to update.
	Devices []string
	// Version is the version they are to run.
	Version string
	// Canary is how many devices are updated first: the first ones by id
	// that do not run Version already. The others are sent the command
	// only when every canary ended healthy.
	Canary int
	// Timeout bounds each device's update, from when its command is sent.
	Timeout time.Duration
	// Command returns the signed request that asks device to update,
	// given its state. An error ends that device's update, with the
	// error's text as the reason (no binary for its target).
	Command func(device string, st UpdateState) (Request, error)
	// Progress, if not nil, is called from Update's goroutine at most
	// every 250 ms while devices update, and once at the end: with the
	// changes of phase since its last call, in order, and the status of
	// every device, by id.
	Progress func(changes, all []UpdateStatus)
	// StateWait bounds the wait for the devices' retained states at the
	// start; 0 means 10 s.
	StateWait time.Duration
}

// UpdateResult is how an update ended.
type UpdateResult struct {
	// Statuses are the devices' statuses, by id.
	Statuses []UpdateStatus
	// Ignored counts messages about the devices that were over
	// MaxUpdatePayload or not of the form expected.
	Ignored uint64
}

// Update asks devices to update to a version and follows each one until
// it runs the version healthy, refuses, rolls back or times out. It
// subscribes to the devices' states, availability, replies on
// cmd/update/reply and update events before it sends anything, then
// sends each command (QoS 1, not retained) to <prefix>/<id>/cmd/update,
// at most MaxUpdatesAtOnce at a time, the canaries first. A device
// without a state on the broker, already on the version, that does not
// offer updates, has them off or is offline is not sent anything. When
// ctx ends, the updates under way end as stopped.
func (w *Watcher) Update(ctx context.Context, opt UpdateOptions) (UpdateResult, error) {
	ids := slices.Clone(opt.Devices)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	u := newUpdateWatch(w.prefix, opt.Version, ids, time.Now)
	stop, err := w.watchUpdate(ctx, u)
	if err != nil {
		return UpdateResult{}, err
	}
	defer stop()
	wait := opt.StateWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	u.waitStates(ctx, wait, 500*time.Millisecond)

	var todo []string
	for _, id := range ids {
		if st, ok := u.state(id); ok && st.Version == opt.Version {
			u.end(id, UpdateAlready, "")
		} else {
			todo = append(todo, id)
		}
	}
	r := &updateRun{w: w, u: u, opt: opt, ids: ids}
	canary, rest := todo[:min(max(opt.Canary, 0), len(todo))], todo[min(max(opt.Canary, 0), len(todo)):]
	if len(canary) > 0 {
		r.run(ctx, canary)
		for _, id := range canary {
			if !u.status(id).OK() && ctx.Err() == nil {
				for _, id := range rest {
					u.end(id, UpdateSkipped, "skipped: canary failed")
				}
				rest = nil
				break
			}
		}
	}
	r.run(ctx, rest)
	changes, all := u.report(ids)
	if opt.Progress != nil {
		opt.Progress(changes, all)
	}
	u.mu.Lock()
	ignored := u.ignored
	u.mu.Unlock()
	return UpdateResult{Statuses: all, Ignored: ignored}, nil
}

type updateRun struct {
	w          *Watcher
	u          *updateWatch
	opt        UpdateOptions
	ids        []string
	lastReport time.Time
}

// run updates the devices of group, at most MaxUpdatesAtOnce at a time,
// until each update ended.
func (r *updateRun) run(ctx context.Context, group []string) {
	queue := group
	tick := time.NewTicker(reportEvery / 2)
	defer tick.Stop()
	for {
		running := r.u.expire(group, r.opt.Timeout)
		for len(queue) > 0 && running < MaxUpdatesAtOnce && ctx.Err() == nil {
			if r.send(ctx, queue[0]) {
				running++
			}
			queue = queue[1:]
		}
		if ctx.Err() != nil {
			for _, id := range group {
				if st := r.u.status(id); !st.Phase.Done() {
					r.u.end(id, UpdateStopped, st.Phase.String())
				}
			}
			return
		}
		if running == 0 && len(queue) == 0 {
			return
		}
		if now := time.Now(); now.Sub(r.lastReport) >= reportEvery && r.opt.Progress != nil {
			r.lastReport = now
			r.opt.Progress(r.u.report(r.ids))
		}
		select {
		case <-r.u.wake:
		case <-tick.C:
		case <-ctx.Done():
		}
	}
}

// send sends id its command, or ends its update if it cannot be
// updated, and reports whether the command went out.
func (r *updateRun) send(ctx context.Context, id string) bool {
	st, have := r.u.state(id)
	if p, detail := precheck(st, have, r.u.status(id).Offline, r.opt.Version); p != UpdateQueued {
		r.u.end(id, p, detail)
		return false
	}
	req, err := r.opt.Command(id, st)
	if err != nil {
		r.u.end(id, UpdateFailed, err.Error())
		return false
	}
	req.Device = id
	r.u.sending(id, req)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := wait(pctx, r.w.c.Publish(r.w.prefix+"/"+id+"/cmd/update", 1, false, req.Payload)); err != nil {
		r.u.end(id, UpdateFailed, "not sent: "+err.Error())
		return false
	}
	return true
}

// precheck says why a device cannot be sent the command, from its state
// and availability: an ending phase and its detail, or UpdateQueued.
func precheck(st UpdateState, have, offline bool, version string) (UpdatePhase, string) {
	switch {
	case !have:
		return UpdateFailed, "no state on the broker: not an edge-agent, or it never connected"
	case st.Version == version:
		return UpdateAlready, ""
	case st.Update == nil || st.GOOS == "" || st.GOARCH == "":
		return UpdateFailed, "its agent does not offer updates: install this version by hand"
	case !st.Update.Enabled:
		return UpdateFailed, "updates off on the device (EDGE_UPDATE=on)"
	case offline:
		return UpdateFailed, "offline: not sent"
	}
	return UpdateQueued, ""
}

// watchUpdate subscribes u to the devices' messages and returns the
// function that ends it. The listing's own subscriptions to state and
// availability are taken over by a handler that feeds both, and given
// back at the end; the subscriptions are redone on every connection.
func (w *Watcher) watchUpdate(ctx context.Context, u *updateWatch) (func(), error) {
	h := func(_ paho.Client, m paho.Message) { u.handle(m.Topic(), m.Payload()) }
	both := func(c paho.Client, m paho.Message) {
		w.onMessage(c, m)
		h(c, m)
	}
	p := w.prefix
	listing := map[string]bool{p + "/+/state": true, p + "/+/availability": true}
	subs := map[string]paho.MessageHandler{
		p + "/+/cmd/update/reply":               h,
		p + "/+/events/" + EventUpdate:          h,
		p + "/+/events/" + EventUpdateFailed:    h,
		p + "/+/events/" + EventUpdateCommitted: h,
		p + "/+/state":                          both,
		p + "/+/availability":                   both,
	}
	w.mu.Lock()
	w.replies = maps.Clone(subs)
	w.mu.Unlock()
	stop := func() {
		w.mu.Lock()
		w.replies = nil
		w.mu.Unlock()
		for f := range subs {
			if listing[f] {
				w.c.AddRoute(f, w.onMessage)
			} else {
				w.c.Unsubscribe(f).WaitTimeout(time.Second)
			}
		}
	}
	// The state last: its retained messages are what the update starts from.
	for _, f := range slices.SortedFunc(maps.Keys(subs), func(a, b string) int {
		return compareBool(listing[a], listing[b])
	}) {
		tok := w.c.Subscribe(f, 1, subs[f])
		if err := wait(ctx, tok); err != nil {
			stop()
			return nil, fmt.Errorf("fleet: subscribing to %s: %w", f, err)
		}
		if st, ok := tok.(*paho.SubscribeToken); ok && st.Result()[f] == 0x80 {
			stop()
			return nil, fmt.Errorf("%w %s", ErrSubscribe, f)
		}
	}
	return stop, nil
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// waitStates waits until every device's retained state arrived, or none
// arrived for quiet, or for at most limit.
func (u *updateWatch) waitStates(ctx context.Context, limit, quiet time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	q := time.NewTimer(quiet)
	defer q.Stop()
	for !u.haveStates() {
		select {
		case <-u.wake:
			q.Reset(quiet)
		case <-q.C:
			return
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}
