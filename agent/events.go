package agent

import (
	"sync"
	"time"
)

// Event is something that happened, for the status bridge to publish.
type Event struct {
	Time time.Time `json:"time"`
	Kind string    `json:"kind"` // e.g. file_received
	Data any       `json:"data"`
}

// eventLogSize bounds the events kept for a reader that falls behind:
// newer ones push the oldest out.
const eventLogSize = 64

// eventLog keeps the latest events in order.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	seq    uint64 // events ever added
}

func (l *eventLog) add(kind string, data any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == eventLogSize {
		copy(l.events, l.events[1:])
		l.events = l.events[:eventLogSize-1]
	}
	l.events = append(l.events, Event{Time: time.Now(), Kind: kind, Data: data})
	l.seq++
}

// Events returns the events after the first `after` ever recorded (0 for
// all that are kept) and the count to pass next time.
func (a *Agent) Events(after uint64) ([]Event, uint64) {
	l := &a.events
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.seq - uint64(len(l.events)) // sequence number of events[0]
	if after < first {
		after = first
	}
	if after >= l.seq {
		return nil, l.seq
	}
	return append([]Event(nil), l.events[after-first:]...), l.seq
}
