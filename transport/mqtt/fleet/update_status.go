package fleet

import "time"

// UpdatePhase is where one device's update stands. The phases up to
// UpdateRestarting follow each other (a device's messages may arrive out
// of order, so a phase never goes back); the ones after end it.
type UpdatePhase uint8

const (
	UpdateQueued      UpdatePhase = iota // not sent yet: after the canaries, or over the bound of updates at once
	UpdateSent                           // the command is published
	UpdateAccepted                       // the device answered ok
	UpdateDownloading                    // its update events say so
	UpdateVerifying
	UpdateRestarting
	UpdateHealthy    // runs the version and committed it
	UpdateAlready    // ran the version before anything was sent
	UpdateRefused    // answered ok false; Detail is "code: message"
	UpdateRolledBack // Detail is the device's reason
	UpdateTimedOut   // Detail is the phase it was in
	UpdateStopped    // the command was interrupted; Detail is the phase
	UpdateFailed     // not sent; Detail says why (no binary for it, updates off)
	UpdateSkipped    // not sent because a canary did not end healthy
)

var phaseNames = [...]string{"queued", "sent", "accepted", PhaseDownloading, PhaseVerifying, PhaseRestarting,
	"healthy", "already", "refused", "rolled back", "timed out", "stopped", "failed", "skipped"}

func (p UpdatePhase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return "unknown"
}

// Done reports whether p ends an update.
func (p UpdatePhase) Done() bool { return p >= UpdateHealthy }

// UpdateStatus is one device's update as far as it went.
type UpdateStatus struct {
	Device string `json:"device"`
	// From is the version the device ran when the update began, To the
	// one it is asked to run.
	From  string      `json:"from,omitempty"`
	To    string      `json:"to"`
	Phase UpdatePhase `json:"phase"`
	// Detail completes the phases that end an update other than healthy.
	Detail string `json:"detail,omitempty"`
	// Offline is a device whose availability is offline (its Last Will,
	// or a restart under way).
	Offline bool `json:"offline,omitempty"`
	// Sent is when the command was published (zero before), Changed
	// when Phase last changed; both from this machine's clock.
	Sent    time.Time `json:"sent,omitzero"`
	Changed time.Time `json:"changed,omitzero"`
}

// OK reports whether the device runs the version it was asked to.
func (s UpdateStatus) OK() bool { return s.Phase == UpdateHealthy || s.Phase == UpdateAlready }

// State is the status in words, as the table shows it: "downloading",
// "healthy", "already on V", "refused: CODE: message", "rolled back:
// REASON", "timed out in STATE", and for a device that was not sent the
// command, why. A device that is offline while its update runs says so.
func (s UpdateStatus) State() string {
	switch s.Phase {
	case UpdateAlready:
		return "already on " + s.To
	case UpdateRefused, UpdateRolledBack:
		return s.Phase.String() + ": " + s.Detail
	case UpdateTimedOut, UpdateStopped:
		return s.Phase.String() + " in " + s.Detail
	case UpdateFailed, UpdateSkipped:
		return s.Detail
	}
	if s.Offline && !s.Phase.Done() {
		return s.Phase.String() + " (offline)"
	}
	return s.Phase.String()
}

// Elapsed is how long the update has run: from Sent to the end, or to
// now while it runs; 0 before it was sent.
func (s UpdateStatus) Elapsed(now time.Time) time.Duration {
	switch {
	case s.Sent.IsZero():
		return 0
	case s.Phase.Done():
		return s.Changed.Sub(s.Sent)
	}
	return now.Sub(s.Sent)
}
