package firmwarebridge

import (
	"context"
	"strings"
	"sync"
	"testing"

	"edge-agent/transport/testenv"
	"time"
)

// published collects what a Link publishes.
type published struct {
	mu   sync.Mutex
	msgs []string
}

func (p *published) publish(msg []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, string(msg))
	return true
}

func (p *published) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.msgs...)
}

func (p *published) waitFor(t *testing.T, want ...string) {
	t.Helper()
	testenv.WaitFor(t, "messages "+strings.Join(want, "|"), func() bool {
		return strings.Join(p.list(), "|") == strings.Join(want, "|")
	})
}

// Lines from the microcontroller are published without their ends; boot
// noise and overlong lines are counted and skipped; messages to it get
// "\n". Pulling the cable reports the link down; a new device at the same
// path is opened again and works.
func TestLinkLinesUnplugReplug(t *testing.T) {
	path := portPath(t)
	cab := testenv.Plug(t, path)
	var pub published
	var ch changes
	l := &Link{Port: PortConfig{Path: path, Baud: 9600}, MaxFrame: 16, Publish: pub.publish, OnChange: ch.add}
	testenv.Run(t, l.Run)
	testenv.WaitFor(t, "the link up", func() bool { return ch.summary() == "up" })

	cab.Write("\xff\xfe\x00boot\x1b noise\r\nhello\r\ntemp=21.5\n\nthis line is far too long\nlast\r")
	pub.waitFor(t, "hello", "temp=21.5", "last")
	if !l.Send([]byte("led on")) || !l.Send([]byte("led off\n")) {
		t.Fatal("Send refused with the port open")
	}
	cab.Expect("led on\nled off\n")
	// Counted once written, which the device may see first.
	testenv.WaitFor(t, "two messages counted", func() bool { return l.Counters()["tx_messages"] == 2 })
	m := l.Counters()
	for k, v := range map[string]uint64{"rx_messages": 3, "rx_published": 3, "rx_garbage": 1, "rx_overlong": 1, "rx_empty": 1, "tx_messages": 2, "link_up": 1} {
		if m[k] != v {
			t.Errorf("counter %s = %d, want %d (all %v)", k, m[k], v, m)
		}
	}
	if l.Send([]byte(strings.Repeat("x", 17))) {
		t.Error("an oversize message was taken")
	}

	cab.Unplug()
	testenv.WaitFor(t, "the link down", func() bool { return ch.summary() == "up,down" })
	if l.Send([]byte("lost")) {
		t.Error("Send took a message while the port was gone")
	}
	if d := l.Down(); d == "" {
		t.Error("Down() empty while the port is gone")
	}

	cab = testenv.Plug(t, path)
	testenv.WaitFor(t, "the link up again", func() bool { return ch.summary() == "up,down,up" })
	cab.Write("back\n")
	pub.waitFor(t, "hello", "temp=21.5", "last", "back")
	l.Send([]byte("again"))
	cab.Expect("again\n")
	m = l.Counters()
	if m["opens"] != 2 || m["disconnects"] != 1 || m["tx_too_big"] != 1 || m["tx_dropped"] != 1 {
		t.Errorf("counters after the replug: %v", m)
	}
}

// COBS frames with a CRC carry binary payloads both ways; a corrupted
// frame is counted and the next one still arrives.
func TestLinkCOBS(t *testing.T) {
	path := portPath(t)
	cab := testenv.Plug(t, path)
	var pub published
	l := &Link{Port: PortConfig{Path: path}, Framing: FramingCOBS, Publish: pub.publish}
	testenv.Run(t, l.Run)
	testenv.WaitFor(t, "the link up", func() bool { return l.Counters()["link_up"] == 1 })

	good := (&COBSFramer{}).mustEncode(t, "\x00\x01binary\x00")
	bad := []byte(good)
	bad[3] ^= 0x40
	next := (&COBSFramer{}).mustEncode(t, "next")
	cab.Write("\x00" + string(bad) + good + next)
	pub.waitFor(t, "\x00\x01binary\x00", "next")
	if m := l.Counters(); m["rx_bad_crc"] != 1 {
		t.Errorf("counters: %v", m)
	}
	l.Send([]byte("to\x00mcu"))
	cab.Expect((&COBSFramer{}).mustEncode(t, "to\x00mcu"))
}

func (f *COBSFramer) mustEncode(t *testing.T, payload string) string {
	t.Helper()
	b, err := f.Encode(nil, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A microcontroller that stops reading must not keep the agent from
// stopping: Run returns although writes to it block.
func TestLinkStopsWithAStuckReader(t *testing.T) {
	path := portPath(t)
	testenv.Plug(t, path) // nobody reads the master
	l := &Link{Port: PortConfig{Path: path}, MaxFrame: 4096}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	testenv.WaitFor(t, "the link up", func() bool { return l.Counters()["link_up"] == 1 })
	big := []byte(strings.Repeat("z", 4000))
	// Far more than a pseudo-terminal buffers: the writer blocks.
	for i := 0; i < 200; i++ {
		l.Send(big)
	}
	testenv.WaitFor(t, "a blocked writer", func() bool { return l.Counters()["tx_dropped"] > 0 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return with a blocked write")
	}
}
