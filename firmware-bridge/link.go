package firmwarebridge

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// txQueue bounds the messages waiting for the microcontroller: a device
// that stops reading costs memory up to this, then messages are dropped.
const txQueue = 64

// Link carries a microcontroller's lines or frames to a message bus
// (MQTT) and the bus's messages back to it. Set the fields, then Run it;
// a port that vanishes is reopened when it returns.
type Link struct {
	Port     PortConfig
	Framing  Framing // default FramingLines
	MaxFrame int     // largest line or frame payload; default DefaultMaxFrame
	// Publish takes each message from the microcontroller: a line
	// without its line ending, or a frame's payload. msg is valid only
	// during the call. It must not block; false means the message could
	// not be taken (counted as rx_dropped).
	Publish func(msg []byte) bool
	// OnChange hears the port open and go away; it must not block.
	OnChange func(LinkChange)
	Logger   *slog.Logger

	once   sync.Once
	tx     chan []byte
	framer Framer
	stats  linkStats

	published, rxDropped, sent, txDropped, txTooBig atomic.Uint64
}

func (l *Link) init() {
	l.once.Do(func() {
		l.tx = make(chan []byte, txQueue)
		l.framer = NewFramer(l.Framing, l.MaxFrame)
	})
}

// Send queues msg for the microcontroller, framed (a line gets "\n").
// It never blocks: it returns false, and counts why, when the port is not
// open, msg is over the maximum frame size or the queue is full.
func (l *Link) Send(msg []byte) bool {
	l.init()
	if !l.stats.up.Load() {
		l.txDropped.Add(1)
		return false
	}
	frame, err := l.framer.Encode(nil, msg)
	if err != nil {
		l.txTooBig.Add(1)
		return false
	}
	select {
	case l.tx <- frame:
		return true
	default:
		l.txDropped.Add(1)
		return false
	}
}

// Run bridges until ctx ends; it returns nil then.
func (l *Link) Run(ctx context.Context) error {
	l.init()
	k := &keeper{cfg: l.Port, role: "firmware", log: l.Logger, onChange: l.OnChange, stats: &l.stats}
	return k.run(ctx, l.session)
}

// Counters returns the link's counters.
func (l *Link) Counters() map[string]uint64 {
	l.init()
	m := l.stats.counters()
	fs := l.framer.Stats()
	m["rx_messages"] = fs.Messages
	m["rx_empty"] = fs.Empty
	m["rx_overlong"] = fs.Overlong
	m["rx_garbage"] = fs.Garbage
	m["rx_bad_crc"] = fs.BadCRC
	m["rx_published"] = l.published.Load()
	m["rx_dropped"] = l.rxDropped.Load()
	m["tx_messages"] = l.sent.Load()
	m["tx_dropped"] = l.txDropped.Load()
	m["tx_too_big"] = l.txTooBig.Load()
	return m
}

// Down says why the port is not open, or "" while it is.
func (l *Link) Down() string { return l.stats.down() }

func (l *Link) receive(msg []byte) {
	if l.Publish != nil && l.Publish(msg) {
		l.published.Add(1)
		return
	}
	l.rxDropped.Add(1)
}

func (l *Link) session(ctx context.Context, p port) error {
	// What the microcontroller sent before a replug is not the start of
	// what it sends now.
	l.framer.Reset()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer unblockWrites(ctx, p, l.Port.baud())()
	werr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { werr <- l.writeLoop(ctx, p) })
	err := readLoop(ctx, p, &l.stats, func(chunk []byte) error {
		l.framer.Feed(chunk, l.receive)
		select {
		case err := <-werr:
			return err
		default:
			return nil
		}
	})
	cancel()
	wg.Wait()
	// Messages queued for a port that went away are not sent to the
	// next one: the device may have restarted and would take them out
	// of context.
	for {
		select {
		case <-l.tx:
			l.txDropped.Add(1)
		default:
			return err
		}
	}
}

func (l *Link) writeLoop(ctx context.Context, p port) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case frame := <-l.tx:
			if ctx.Err() != nil {
				l.txDropped.Add(1)
				return nil
			}
			if err := writeAll(p, &l.stats, frame); err != nil {
				return err
			}
			l.sent.Add(1)
		}
	}
}
