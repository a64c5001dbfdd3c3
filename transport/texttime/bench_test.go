package texttime

import (
	"edge-agent/transport/testenv"
	"testing"
)

func BenchmarkAppendFormat(b *testing.B) {
	for _, bc := range []struct{ name, format string }{
		{"default", DefaultFormat},
		{"every", "%a %A %b %B %c %C %d %D %e %F %g %G %H %I %j %k %l %m %M %p %P %r %R %s %S %T %u %U %V %w %W %x %X %y %Y %z %Z"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, 1024)
			b.ReportAllocs()
			for b.Loop() {
				dst = AppendFormat(dst[:0], bc.format, berlinNov14)
			}
			b.SetBytes(int64(len(dst)))
		})
	}
}

// BenchmarkServeRoundTrip measures one request for the default format and
// its reply over loopback; allocs/op covers client and server, both in
// this process.
func BenchmarkServeRoundTrip(b *testing.B) {
	s := &Server{}
	c := testenv.DialUDP(b, testenv.ServeUDP(b, s.ServePacket))
	reply := make([]byte, MaxReply)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(nil); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(reply); err != nil {
			b.Fatal(err)
		}
	}
}
