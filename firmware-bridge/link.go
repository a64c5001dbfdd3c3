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

// txSession is the queue of one opening of the port. A message taken into
// it is written to that port or counted as dropped when the session ends:
// never written to the next opening, where the device may have restarted
// and would take it out of context.
type txSession struct {
	q chan []byte
}

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
	txMu   sync.Mutex
	tx     *txSession // the open session's queue; nil while the port is down
	framer Framer
	stats  linkStats

	published, rxDropped, sent, txDropped, txTooBig atomic.Uint64
}

func (l *Link) init() {
	l.once.Do(func() {
		l.framer = NewFramer(l.Framing, l.MaxFrame)
	})
}

// Send queues msg for the microcontroller, framed (a line gets "\n").
// It never blocks: it returns false, and counts why, when the port is not
// open, msg is over the maximum frame size or the queue is full. A message
// it took is written to the port open at the time, or counted as dropped
// (tx_dropped) if that port goes away first.
func (l *Link) Send(msg []byte) bool {
	l.init()
	frame, err := l.framer.Encode(nil, msg)
	if err != nil {
		l.txTooBig.Add(1)
		return false
	}
	// The lock makes "the session is open" and "the message is in its
	// queue" one step, against the session's end (endTx).
	l.txMu.Lock()
	defer l.txMu.Unlock()
	if l.tx == nil {
		l.txDropped.Add(1)
		return false
	}
	select {
	case l.tx.q <- frame:
		return true
	default:
		l.txDropped.Add(1)
		return false
	}
}

// beginTx opens a new queue for the session about to start.
func (l *Link) beginTx() {
	l.txMu.Lock()
	l.tx = &txSession{q: make(chan []byte, txQueue)}
	l.txMu.Unlock()
}

// currentTx is the queue beginTx opened for this session.
func (l *Link) currentTx() *txSession {
	l.txMu.Lock()
	defer l.txMu.Unlock()
	return l.tx
}

// endTx closes tx to Send and counts what it still holds as dropped.
func (l *Link) endTx(tx *txSession) {
	l.txMu.Lock()
	if l.tx == tx {
		l.tx = nil
	}
	l.txMu.Unlock()
	// No Send reaches tx any more: what is in it now is all there is.
	for {
		select {
		case <-tx.q:
			l.txDropped.Add(1)
		default:
			return
		}
	}
}

// Run bridges until ctx ends; it returns nil then.
func (l *Link) Run(ctx context.Context) error {
	l.init()
	// The queue opens with the port, so that Send takes messages as
	// soon as the link is reported up.
	k := &keeper{cfg: l.Port, role: "firmware", log: l.Logger, onChange: l.OnChange, stats: &l.stats, opened: l.beginTx}
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
	tx := l.currentTx()
	werr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { werr <- l.writeLoop(ctx, p, tx) })
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
	l.endTx(tx)
	return err
}

func (l *Link) writeLoop(ctx context.Context, p port, tx *txSession) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case frame := <-tx.q:
			if ctx.Err() != nil {
				l.txDropped.Add(1)
				return nil
			}
			if err := writeAll(p, &l.stats, frame); err != nil {
				// Perhaps in part: the device is going away and
				// nothing says it took the message.
				l.txDropped.Add(1)
				return err
			}
			l.sent.Add(1)
		}
	}
}
