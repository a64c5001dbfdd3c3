package health

import (
	"runtime"
	"testing"
)

// The kernel's clock state needs no privilege to read; whatever its state,
// the figures are consistent with it.
func TestKernelClock(t *testing.T) {
	c, err := KernelClock{}.ClockSync()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", c)
	if c.MaxErrorMicros < 0 || c.EstErrorMicros < 0 {
		t.Errorf("ClockSync() = %+v", c)
	}
	if c.Synchronised && c.MaxErrorMicros >= unsyncMaxErrorMicros {
		t.Errorf("synchronised with max error %d µs", c.MaxErrorMicros)
	}
	if runtime.GOOS != "linux" && c.Synchronised {
		t.Errorf("synchronised without adjtimex")
	}
}
