package testenv

import (
	"context"
	"testing"
	"time"
)

// Run calls serve on a goroutine until stop is called or the test ends,
// then checks that it returns nil within 5 seconds of its context ending:
// the contract of every service of the agent.
func Run(t testing.TB, serve func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("serve did not return within 5s of cancel")
		}
	}
	t.Cleanup(stop)
	return stop
}
