package agent

import (
	"maps"
	"runtime"
	"time"
)

// Status is a snapshot of the agent for the console and the MQTT bridge.
type Status struct {
	Version string        `json:"version"`
	Started time.Time     `json:"started"`
	Uptime  time.Duration `json:"uptime_ns"`
	// Goroutines is runtime.NumGoroutine: one per connection or session a
	// peer holds, so a count that does not come back down is a leak.
	Goroutines int             `json:"goroutines"`
	Services   []ServiceStatus `json:"services"`
}

// ServiceStatus is one service in a Status.
type ServiceStatus struct {
	Name     string            `json:"name"`
	Addr     string            `json:"addr"` // bound address, or "off"
	Counters map[string]uint64 `json:"counters,omitempty"`
}

// Status reads every service's counters. It is safe to call at any time
// from any goroutine.
func (a *Agent) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := Status{Version: Build().Version, Started: a.started, Goroutines: runtime.NumGoroutine()}
	if !a.started.IsZero() {
		st.Uptime = time.Since(a.started)
	}
	for _, s := range a.services {
		ss := ServiceStatus{Name: s.name, Addr: s.bound}
		switch {
		case s.addr == Off:
			ss.Addr = Off
		default:
			ss.Counters = maps.Clone(s.counters.Counters())
		}
		st.Services = append(st.Services, ss)
	}
	return st
}
