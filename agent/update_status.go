package agent

import (
	"edge-agent/agent/update"
)

// updateState is the state document's update object.
type updateState struct {
	Enabled bool `json:"enabled"`
	// Slot is the slot running, when the launcher started it.
	Slot            update.Slot     `json:"slot,omitempty"`
	PreviousVersion string          `json:"previous_version,omitempty"`
	Trial           bool            `json:"trial,omitempty"`
	Last            *update.Outcome `json:"last,omitempty"`
}

// status is the update object of the state document. It is read from the
// layout as last seen (refresh): a state publish never waits for the
// slot directory's lock, which an install holds for its download.
func (u *updater) status() updateState {
	s := updateState{Enabled: u.store != nil, Slot: u.slot, Trial: u.trial.Load()}
	if st := u.seen.Load(); st != nil {
		if st.Previous != "" {
			s.PreviousVersion = st.Slots.Get(st.Previous).Version
		}
		if st.Last != nil {
			last := *st.Last
			last.Reported = false
			s.Last = &last
		}
	}
	return s
}

// refresh reads the layout for status.
func (u *updater) refresh() {
	if u.store == nil {
		return
	}
	if st, err := u.store.State(); err == nil {
		u.seen.Store(&st)
	}
}
