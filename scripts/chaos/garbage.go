package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// labelled is a piece of garbage and what it is, for the table.
type labelled struct {
	label string
	data  []byte
}

// noLineEnds replaces CR and LF, so garbage stays within one line.
func noLineEnds(b []byte) []byte {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = 'x'
		}
	}
	return b
}

// consoleGarbage is what a confused terminal or a stranger types.
func consoleGarbage() labelled {
	switch rand.IntN(6) {
	case 0:
		return labelled{"random bytes", noLineEnds(randomBytes(1 + rand.IntN(256)))}
	case 1:
		return labelled{"overlong line", bytes.Repeat([]byte("A"), 2000+rand.IntN(3000))}
	case 2:
		return labelled{"escape sequences", []byte("\x1b[A\x1b[15~\x1bOP\x1b[" + string(bytes.Repeat([]byte("9"), rand.IntN(40))))}
	case 3:
		return labelled{"unknown command", []byte(fmt.Sprintf("rm -rf / %d", rand.IntN(1000)))}
	case 4:
		return labelled{"control characters", []byte("\x01\x02\x04\x07\x08\x7f\x15\x1a\x1c\x00")}
	}
	return labelled{"not UTF-8", []byte("st\xff\xfeatus \xc3")}
}

// firmwareGarbage is what a microcontroller prints when it boots at
// another speed or misbehaves; every piece ends with a newline so the
// honest lines around it stay whole.
func firmwareGarbage() labelled {
	switch rand.IntN(6) {
	case 0:
		return labelled{"random bytes", append(noLineEnds(randomBytes(1+rand.IntN(256))), '\n')}
	case 1:
		return labelled{"overlong line", append(bytes.Repeat([]byte("B"), 1025+rand.IntN(4000)), '\n')}
	case 2:
		return labelled{"control characters", []byte("\x01boot\x00\x1b[0m\n")}
	case 3:
		return labelled{"empty lines", []byte("\n\r\n\r\r\n\n")}
	case 4:
		return labelled{"not UTF-8", []byte("temp=\xff\xfe21\n")}
	}
	return labelled{"noise line", []byte(fmt.Sprintf("noise=%d\n", rand.IntN(1e6)))}
}

// firmwareNoise writes garbage between the honest lines.
func firmwareNoise(ctx context.Context, t *tally, mcu *cable, period time.Duration) {
	k := t.kind("firmware: garbage from the device", false, 0)
	every(ctx, period, func(ctx context.Context) {
		g := firmwareGarbage()
		if err := mcu.write(g.data); err != nil {
			k.outcome("not sent: " + classify(err))
			return
		}
		k.outcome(g.label)
	})
}

// mqttHostile publishes what a careless or hostile broker client might:
// unknown commands, retained commands (state, never to be obeyed again
// after a reconnect), oversized and binary firmware messages. It keeps
// off the agent's own state and availability topics, which only broker
// ACLs can protect and which the driver reads.
func mqttHostile(ctx context.Context, t *tally, o *observer, period time.Duration) {
	k := t.kind("mqtt: hostile publisher", false, 0)
	every(ctx, period, func(ctx context.Context) {
		var topic, label string
		var payload []byte
		retained := false
		switch rand.IntN(6) {
		case 0:
			topic, label, payload = fmt.Sprintf("cmd/x%d", rand.IntN(1000)), "unknown command", randomBytes(rand.IntN(256))
		case 1:
			topic, label, retained = "cmd/reboot", "retained command", true
		case 2:
			topic, label, retained = "cmd/refresh", "retained refresh", true
		case 3:
			topic, label, payload = "firmware/tx", "oversized firmware message", bytes.Repeat([]byte("C"), 2000+rand.IntN(60000))
		case 4:
			topic, label, payload = "firmware/tx", "binary firmware message", append([]byte{0}, randomBytes(rand.IntN(512))...)
		default:
			topic, label, payload = "cmd/services", "large command payload", randomBytes(rand.IntN(60000))
		}
		if err := o.publish(topic, retained, payload, 2*time.Second); err != nil {
			if ctx.Err() == nil {
				k.outcome("not sent: " + err.Error())
			}
			return
		}
		k.outcome(label)
	})
}
