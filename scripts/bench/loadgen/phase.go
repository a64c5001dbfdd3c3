package loadgen

import (
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// budgetChunk is how many requests a worker reserves from the shared
// request budget at a time, so the counter is not a contended cache line
// on every request.
const budgetChunk = 256

// Phase is the timed part of one closed-loop run. Workers are started with
// Go, finish their setup, wait for Started, ask Next before each request
// and return when it says no. Stopped is checked once a worker has armed
// its socket's deadline: Run sets it and then has the caller force every
// deadline into the past, so a worker either sees it or has its I/O return
// at once.
type Phase struct {
	start  chan struct{}
	stop   atomic.Bool
	budget atomic.Int64
	wg     sync.WaitGroup
}

// NewPhase returns a phase whose workers send at most maxRequests requests
// in all.
func NewPhase(maxRequests int64) *Phase {
	p := &Phase{start: make(chan struct{})}
	p.budget.Store(maxRequests)
	return p
}

// Go starts a worker.
func (p *Phase) Go(worker func()) {
	p.wg.Go(worker)
}

// Started is closed when the timed part begins.
func (p *Phase) Started() <-chan struct{} { return p.start }

// Stopped reports whether the run has ended; an exchange that sees it is
// neither a failure nor a result.
func (p *Phase) Stopped() bool { return p.stop.Load() }

// Next reports whether the worker may send another request. held is the
// worker's own reserve: it is refilled from the shared budget a chunk at a
// time and must start at zero.
func (p *Phase) Next(held *int64) bool {
	if *held == 0 {
		left := p.budget.Add(-budgetChunk) + budgetChunk
		if left <= 0 {
			return false
		}
		*held = min(left, budgetChunk)
	}
	*held--
	return true
}

// Run releases the workers and ends the phase after d, once every worker
// has returned (the budget is spent) or on SIGINT or SIGTERM, whichever
// comes first. It then sets Stopped, calls wake, which must make blocked
// I/O return (by moving the sockets' deadlines into the past), and waits
// for the workers. It returns the length of the timed part.
func (p *Phase) Run(d time.Duration, wake func()) time.Duration {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	timer := time.NewTimer(d)
	t0 := time.Now()
	close(p.start)
	select {
	case <-timer.C:
	case <-done:
	case <-sig:
	}
	elapsed := time.Since(t0)
	p.stop.Store(true)
	wake()
	<-done
	return elapsed
}
