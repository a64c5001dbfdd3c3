package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"edge-agent/agent/sdnotify"
	"edge-agent/agent/update"
)

// startTimeoutMargin is what a version on trial asks systemd to wait
// beyond its health window before it gives up on its start.
const startTimeoutMargin = 15 * time.Second

// settle runs once every service is bound, with updates on. A version
// on trial waits
// until it is healthy (the status bridge reached the broker) and commits,
// or records why not when the health window ends and returns
// ErrUnhealthy; any other start reports the last update's outcome. Then
// it tells systemd the agent is ready. since is when Run began.
func (u *updater) settle(ctx context.Context, since time.Time) error {
	u.refresh()
	if err := u.checkTrial(ctx, since); err != nil {
		return err
	}
	u.report()
	u.refresh()
	u.ready()
	return nil
}

// ready tells systemd the agent is ready.
func (u *updater) ready() {
	if _, err := sdnotify.Notify(sdnotify.Ready); err != nil {
		u.log.Warn("telling systemd the agent is ready", "err", err)
	}
}

// checkTrial commits the version on trial once healthy, or fails it. A
// start without a layout makes one of the running binary, so that the
// next update has a version to roll back to.
func (u *updater) checkTrial(ctx context.Context, since time.Time) error {
	st, err := u.store.State()
	if errors.Is(err, update.ErrNoSlots) && u.slot == "" {
		u.bootstrap(ctx)
		return nil
	}
	if err != nil {
		u.log.Error("reading the update slots", "err", err)
		return nil
	}
	t := st.Trial
	if t == nil || t.Slot != st.Current || u.slot != st.Current || t.Attempts == 0 {
		return nil
	}
	u.trial.Store(true)
	window := u.cfg.UpdateHealthWindow
	left := window - time.Since(since)
	u.log.Info("version on trial: commits once the broker is reached", "slot", st.Current, "health_window", window)
	if _, err := sdnotify.Notify(sdnotify.ExtendTimeout(left + startTimeoutMargin)); err != nil {
		u.log.Warn("asking systemd for the health window", "err", err)
	}
	deadline := time.NewTimer(left)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !u.healthy() {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			reason := fmt.Sprintf("not healthy within the health window (%v): the broker was not reached", window)
			u.fail(reason)
			return fmt.Errorf("%w: %s", ErrUnhealthy, reason)
		case <-tick.C:
		}
	}
	if err := u.store.Commit(); err != nil {
		u.log.Error("committing the version on trial", "err", err)
		return nil
	}
	// The outcome first: a state document that says no trial says how
	// it ended.
	u.refresh()
	u.trial.Store(false)
	return nil
}

// healthy says whether a version on trial may commit: its services are
// bound (settle runs after that) and the status bridge reached a broker.
func (u *updater) healthy() bool {
	return u.a.mqtt.bridge() == nil || u.a.mqtt.Counters()["connects"] > 0
}

// fail records why the version on trial is not fit; the next start rolls
// it back. Nothing happens for a version that is not on trial.
func (u *updater) fail(reason string) {
	if u.store == nil || u.slot == "" {
		return
	}
	if err := u.store.Fail(reason); err != nil && !errors.Is(err, update.ErrNoTrial) {
		u.log.Error("recording the failure of the version on trial", "reason", reason, "err", err)
	}
}

// report publishes the last update's outcome once: update_committed or
// update_failed.
func (u *updater) report() {
	o, ok := u.store.Report()
	if !ok {
		return
	}
	data := map[string]string{"from": o.From, "to": o.To}
	kind := "update_committed"
	if o.Result == update.RolledBack {
		kind, data["reason"] = "update_failed", o.Reason
		u.log.Warn("the last update was rolled back", "from", o.From, "to", o.To, "reason", o.Reason)
	}
	u.a.events.add(kind, data)
}

func (u *updater) bootstrap(ctx context.Context) {
	exe, err := os.Executable()
	if err == nil {
		var f *os.File
		if f, err = os.Open(exe); err == nil {
			defer f.Close()
			var v update.VersionInfo
			if v, err = u.store.Bootstrap(ctx, f); err == nil {
				u.log.Info("update slots made: slot a holds the running binary", "binary", exe, "version", v.Version)
				return
			}
		}
	}
	u.log.Error("making the update slots: updates are refused until a start succeeds", "err", err)
}

// watchdogInterval is how often the unit's WatchdogSec= asks for a
// keep-alive; 0 without a watchdog.
func (u *updater) watchdogInterval() time.Duration {
	every, err := sdnotify.WatchdogInterval()
	if err != nil {
		u.a.log.Warn("systemd watchdog", "err", err)
	}
	return every
}

// watchdog tells systemd the agent is alive every so often, until ctx
// ends. Each keep-alive takes the agent's status lock, so a deadlocked
// agent stops sending them.
func (u *updater) watchdog(ctx context.Context, every time.Duration) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		u.a.Status()
		if _, err := sdnotify.Notify(sdnotify.Watchdog); err != nil {
			u.a.log.Warn("systemd watchdog", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
