package testenv

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing the test after 10 seconds:
// tests wait for conditions, never for fixed times.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
