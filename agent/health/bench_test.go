package health

import "testing"

// BenchmarkCollect reads the machine the benchmark runs on, as the agent
// does every 30 s; the fake tree shows the cost of parsing alone.
func BenchmarkCollect(b *testing.B) {
	b.Run("system", func(b *testing.B) {
		c := &Collector{DiskPath: b.TempDir()}
		benchCollect(b, c)
	})
	b.Run("rpi4", func(b *testing.B) {
		benchCollect(b, fakeCollector("rpi4"))
	})
}

func benchCollect(b *testing.B, c *Collector) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Collect(); err != nil {
			b.Fatal(err)
		}
	}
}
