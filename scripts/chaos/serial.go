package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// serialTimeout bounds a firmware line's or MQTT command's round trip:
// each crosses the agent, mosquitto and the driver's MQTT client.
const serialTimeout = 5 * time.Second

// waiters hands messages that arrive on one goroutine (the MQTT router,
// a cable's reader) to the client waiting for them, by key.
type waiters struct {
	mu      sync.Mutex
	pending map[string]chan struct{}
}

func (w *waiters) expect(key string) chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	w.pending[key] = ch
	return ch
}

func (w *waiters) deliver(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.pending[key]; ok {
		close(ch)
		delete(w.pending, key)
	}
}

func (w *waiters) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, key)
}

// await waits for ch; false on timeout or the end of the run.
func await(ctx context.Context, ch chan struct{}, timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// mqttPing is an operator's cmd/ping round trip through mosquitto.
func mqttPing(ctx context.Context, t *tally, k *kind, o *observer, period time.Duration) {
	every(ctx, period, func(ctx context.Context) {
		t0 := time.Now()
		err := o.ping(serialTimeout)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			t.failure(k, t0, err.Error(), err.Error())
		default:
			t.success(k, t0)
		}
	})
}

// firmwareRx: the microcontroller prints a numbered line; it must reach
// the firmware/rx topic.
func firmwareRx(ctx context.Context, t *tally, k *kind, mcu *cable, rx *waiters, period time.Duration) {
	relayed(ctx, t, k, rx, "rx", period, func(key string) error { return mcu.write([]byte(key + "\n")) },
		classify, "not published")
}

// firmwareTx: a numbered message on firmware/tx must reach the
// microcontroller as a line.
func firmwareTx(ctx context.Context, t *tally, k *kind, o *observer, tx *waiters, period time.Duration) {
	relayed(ctx, t, k, tx, "tx", period, func(key string) error { return o.publish("firmware/tx", false, []byte(key), serialTimeout) },
		func(err error) string { return "publish: " + err.Error() }, "not written to the port")
}

// relayed runs an honest client of kind k that every period sends a
// numbered key (prefix-N) into one side of the firmware bridge; it must
// come out of the other, where arrivals hears of it, within
// serialTimeout. A failed send is a failure for the reason why gives,
// a key that does not arrive one called lost.
func relayed(ctx context.Context, t *tally, k *kind, arrivals *waiters, prefix string, period time.Duration,
	send func(key string) error, why func(error) string, lost string) {
	var seq int
	every(ctx, period, func(ctx context.Context) {
		seq++
		key := fmt.Sprintf("%s-%d", prefix, seq)
		ch := arrivals.expect(key)
		defer arrivals.forget(key)
		t0 := time.Now()
		if err := send(key); err != nil {
			if ctx.Err() == nil {
				t.failure(k, t0, why(err), err.Error())
			}
			return
		}
		switch ok := await(ctx, ch, serialTimeout); {
		case ctx.Err() != nil:
		case !ok:
			t.failure(k, t0, lost, key)
		default:
			t.success(k, t0)
		}
	})
}

// console: an operator types "version" on the serial console and reads
// the answer up to the next prompt; between commands a hostile typist
// sends garbage, always ended by CR (which also ends any escape sequence
// it left open), as a person would press Enter on a confused terminal.
func console(ctx context.Context, t *tally, honest, hostile *kind, con *cable, prompt string, period time.Duration) {
	every(ctx, period, func(ctx context.Context) {
		con.reset()
		t0 := time.Now()
		if err := con.write([]byte("version\r")); err != nil {
			t.failure(honest, t0, classify(err), err.Error())
			return
		}
		ok := con.expect(serialTimeout, "goroutines", prompt)
		switch {
		case ctx.Err() != nil:
			return
		case !ok:
			t.failure(honest, t0, "no answer", "version")
		default:
			t.success(honest, t0)
		}
		g := consoleGarbage()
		if err := con.write(append(g.data, '\r')); err != nil {
			hostile.outcome("write failed")
			return
		}
		hostile.outcome(g.label)
	})
}
