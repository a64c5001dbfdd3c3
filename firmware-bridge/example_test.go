package firmwarebridge_test

import (
	"fmt"

	fb "edge-agent/firmware-bridge"
)

// A two-byte payload as it goes over the wire in cobs framing, and back.
func ExampleCOBSFramer() {
	var f fb.COBSFramer
	frame, _ := f.Encode(nil, []byte{0x01, 0x02})
	fmt.Printf("% X\n", frame)
	f.Feed(frame, func(msg []byte) { fmt.Printf("% X\n", msg) })
	// Output:
	// 05 01 02 0E 7C 00
	// 01 02
}

// What a microcontroller prints, split into the messages published.
func ExampleLineFramer() {
	var f fb.LineFramer
	f.Feed([]byte("\xff\xfe\x00boot\r\ntemp=21.5\r\n\r\nhum"), func(msg []byte) { fmt.Printf("%q\n", msg) })
	f.Feed([]byte("=40\n"), func(msg []byte) { fmt.Printf("%q\n", msg) })
	fmt.Printf("%+v\n", f.Stats())
	// Output:
	// "temp=21.5"
	// "hum=40"
	// {Messages:2 Empty:1 Overlong:0 Garbage:1 BadCRC:0}
}
