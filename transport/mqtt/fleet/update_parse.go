package fleet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// MaxUpdatePayload bounds what an update reads of one message (a state,
// an event, a reply): anyone who may publish under a device's topics
// can send more, and a larger one is ignored and counted.
const MaxUpdatePayload = 64 << 10

// ErrUpdateMessage is a device's message that is not of the form an
// update reads: too large, not JSON, a field of the wrong type.
var ErrUpdateMessage = errors.New("fleet: not an update message")

// UpdateState is what a device's retained state says about its version,
// its build target and its updates.
type UpdateState struct {
	Time    time.Time
	Version string
	GOOS    string
	GOARCH  string
	// GOARM is "" unless GOARCH is arm.
	GOARM string
	// AgentUptime is how long the agent process had run when it
	// published the state; -1 when the state does not say.
	AgentUptime time.Duration
	// Update is nil when the state has no update section: an agent older
	// than updates.
	Update *UpdateInfo
}

// UpdateInfo is the state's update section.
type UpdateInfo struct {
	Enabled         bool           `json:"enabled"`
	Slot            string         `json:"slot"`
	PreviousVersion string         `json:"previous_version"`
	Trial           bool           `json:"trial"`
	Last            *UpdateOutcome `json:"last"`
}

// UpdateOutcome is how the device's last update ended.
type UpdateOutcome struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Result string `json:"result"` // committed or rolled_back
	Reason string `json:"reason"`
}

// Outcomes of an update as a device reports them in UpdateOutcome.Result.
const (
	OutcomeCommitted  = "committed"
	OutcomeRolledBack = "rolled_back"
)

type updateStateDoc struct {
	Time         time.Time       `json:"time"`
	Version      string          `json:"version"`
	GOOS         string          `json:"goos"`
	GOARCH       string          `json:"goarch"`
	GOARM        string          `json:"goarm"`
	AgentUptimeS *float64        `json:"agent_uptime_s"`
	Update       json.RawMessage `json:"update"`
}

// ParseUpdateState reads the parts of a device's state message an update
// needs. Other keys are the listing's and are not looked at.
func ParseUpdateState(payload []byte) (UpdateState, error) {
	var doc updateStateDoc
	if err := decodeUpdate(payload, &doc); err != nil {
		return UpdateState{}, err
	}
	st := UpdateState{Time: doc.Time, Version: doc.Version, GOOS: doc.GOOS, GOARCH: doc.GOARCH, GOARM: doc.GOARM, AgentUptime: -1}
	if st.Version == "" {
		return UpdateState{}, fmt.Errorf("%w: the state names no version", ErrUpdateMessage)
	}
	if u := doc.AgentUptimeS; u != nil {
		if *u < 0 || *u > math.MaxInt64/float64(time.Second) {
			return UpdateState{}, fmt.Errorf("%w: agent_uptime_s %v is out of range", ErrUpdateMessage, *u)
		}
		st.AgentUptime = time.Duration(*u * float64(time.Second))
	}
	if len(doc.Update) > 0 && !bytes.Equal(doc.Update, []byte("null")) {
		st.Update = new(UpdateInfo)
		if err := json.Unmarshal(doc.Update, st.Update); err != nil {
			return UpdateState{}, fmt.Errorf("%w: update: %v", ErrUpdateMessage, err)
		}
	}
	return st, nil
}

// Update event kinds: the last level of their topic, <prefix>/<id>/events/<kind>.
const (
	EventUpdate          = "update"           // data: phase, version
	EventUpdateFailed    = "update_failed"    // data: from, to, reason
	EventUpdateCommitted = "update_committed" // data: from, to
)

// Phases an update event names, in the order a device goes through them.
const (
	PhaseDownloading = "downloading"
	PhaseVerifying   = "verifying"
	PhaseRestarting  = "restarting"
)

// UpdateEvent is one of a device's update events.
type UpdateEvent struct {
	Time    time.Time
	Kind    string
	Phase   string // for EventUpdate
	Version string // for EventUpdate: the version being installed
	From    string
	To      string
	Reason  string
}

type updateEventDoc struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Data *struct {
		Phase   string `json:"phase"`
		Version string `json:"version"`
		From    string `json:"from"`
		To      string `json:"to"`
		Reason  string `json:"reason"`
	} `json:"data"`
}

// ParseUpdateEvent reads an event published on events/<kind>: its kind
// must be the topic's, and it must name what that kind needs (a known
// phase and a version; the version updated to).
func ParseUpdateEvent(kind string, payload []byte) (UpdateEvent, error) {
	var doc updateEventDoc
	if err := decodeUpdate(payload, &doc); err != nil {
		return UpdateEvent{}, err
	}
	if doc.Kind != kind {
		return UpdateEvent{}, fmt.Errorf("%w: kind %q on the topic of %s", ErrUpdateMessage, doc.Kind, kind)
	}
	if doc.Data == nil {
		return UpdateEvent{}, fmt.Errorf("%w: no data", ErrUpdateMessage)
	}
	d := doc.Data
	ev := UpdateEvent{Time: doc.Time, Kind: kind, Phase: d.Phase, Version: d.Version, From: d.From, To: d.To, Reason: d.Reason}
	switch kind {
	case EventUpdate:
		switch ev.Phase {
		case PhaseDownloading, PhaseVerifying, PhaseRestarting:
		default:
			return UpdateEvent{}, fmt.Errorf("%w: unknown phase %q", ErrUpdateMessage, ev.Phase)
		}
		if ev.Version == "" {
			return UpdateEvent{}, fmt.Errorf("%w: no version", ErrUpdateMessage)
		}
	case EventUpdateFailed, EventUpdateCommitted:
		if ev.To == "" {
			return UpdateEvent{}, fmt.Errorf("%w: no version updated to", ErrUpdateMessage)
		}
	default:
		return UpdateEvent{}, fmt.Errorf("%w: kind %q is not an update event", ErrUpdateMessage, kind)
	}
	return ev, nil
}

func decodeUpdate(payload []byte, v any) error {
	if len(payload) > MaxUpdatePayload {
		return fmt.Errorf("%w: %d bytes, over the limit of %d", ErrUpdateMessage, len(payload), MaxUpdatePayload)
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: %v", ErrUpdateMessage, err)
	}
	return nil
}
