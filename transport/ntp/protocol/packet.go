package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PacketSize is the length of the NTP header, the whole of an SNTP packet.
const PacketSize = 48

// ErrShort is returned for input shorter than PacketSize.
var ErrShort = errors.New("protocol: packet shorter than 48 bytes")

// Leap is the leap indicator.
type Leap uint8

const (
	LeapNone      Leap = 0 // no leap second pending
	LeapInsert    Leap = 1 // the last minute of the day has 61 seconds
	LeapDelete    Leap = 2 // the last minute of the day has 59 seconds
	LeapNotInSync Leap = 3 // the clock is not synchronised
)

func (l Leap) String() string {
	switch l {
	case LeapNone:
		return "none"
	case LeapInsert:
		return "insert"
	case LeapDelete:
		return "delete"
	case LeapNotInSync:
		return "unsynchronised"
	}
	return fmt.Sprintf("Leap(%d)", uint8(l))
}

// Mode is the association mode.
type Mode uint8

const (
	ModeReserved         Mode = 0
	ModeSymmetricActive  Mode = 1
	ModeSymmetricPassive Mode = 2
	ModeClient           Mode = 3
	ModeServer           Mode = 4
	ModeBroadcast        Mode = 5
	ModeControl          Mode = 6
	ModePrivate          Mode = 7
)

var modeNames = [...]string{"reserved", "symmetric-active", "symmetric-passive", "client", "server", "broadcast", "control", "private"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Packet is the NTP header.
type Packet struct {
	Leap           Leap
	Version        uint8 // 1 to 4 in practice; 3 bits on the wire
	Mode           Mode
	Stratum        uint8 // 0 = unspecified or kiss-o'-death, 1 = primary, 2-15 secondary, 16 = unsynchronised
	Poll           int8  // log2 seconds
	Precision      int8  // log2 seconds
	RootDelay      Short
	RootDispersion Short
	ReferenceID    uint32 // an IPv4 address, or four ASCII characters at stratum 0 and 1
	ReferenceTime  Timestamp
	OriginTime     Timestamp
	ReceiveTime    Timestamp
	TransmitTime   Timestamp
}

// Unmarshal decodes the first 48 bytes of b. Any value of every field is
// representable, so only a short input is an error; whether the packet
// makes sense is for the caller to judge.
func (p *Packet) Unmarshal(b []byte) error {
	if len(b) < PacketSize {
		return ErrShort
	}
	p.Leap = Leap(b[0] >> 6)
	p.Version = (b[0] >> 3) & 7
	p.Mode = Mode(b[0] & 7)
	p.Stratum = b[1]
	p.Poll = int8(b[2])
	p.Precision = int8(b[3])
	p.RootDelay = Short(binary.BigEndian.Uint32(b[4:]))
	p.RootDispersion = Short(binary.BigEndian.Uint32(b[8:]))
	p.ReferenceID = binary.BigEndian.Uint32(b[12:])
	p.ReferenceTime = Timestamp(binary.BigEndian.Uint64(b[16:]))
	p.OriginTime = Timestamp(binary.BigEndian.Uint64(b[24:]))
	p.ReceiveTime = Timestamp(binary.BigEndian.Uint64(b[32:]))
	p.TransmitTime = Timestamp(binary.BigEndian.Uint64(b[40:]))
	return nil
}

// Put encodes p into the first 48 bytes of b, which must hold them.
// Version and Mode are cut to their 3 bits, Leap to its 2.
func (p *Packet) Put(b []byte) {
	_ = b[PacketSize-1]
	b[0] = byte(p.Leap&3)<<6 | (p.Version&7)<<3 | byte(p.Mode&7)
	b[1] = p.Stratum
	b[2] = byte(p.Poll)
	b[3] = byte(p.Precision)
	binary.BigEndian.PutUint32(b[4:], uint32(p.RootDelay))
	binary.BigEndian.PutUint32(b[8:], uint32(p.RootDispersion))
	binary.BigEndian.PutUint32(b[12:], p.ReferenceID)
	binary.BigEndian.PutUint64(b[16:], uint64(p.ReferenceTime))
	binary.BigEndian.PutUint64(b[24:], uint64(p.OriginTime))
	binary.BigEndian.PutUint64(b[32:], uint64(p.ReceiveTime))
	binary.BigEndian.PutUint64(b[40:], uint64(p.TransmitTime))
}

// MarshalBinary returns the 48-byte encoding of p.
func (p *Packet) MarshalBinary() ([]byte, error) {
	b := make([]byte, PacketSize)
	p.Put(b)
	return b, nil
}

// UnmarshalBinary is Unmarshal, for encoding.BinaryUnmarshaler.
func (p *Packet) UnmarshalBinary(b []byte) error { return p.Unmarshal(b) }

// RefID packs four ASCII characters, as kiss codes and stratum-1 sources
// are written: RefID("RATE").
func RefID(code string) uint32 {
	var b [4]byte
	copy(b[:], code)
	return binary.BigEndian.Uint32(b[:])
}

// RefIDString renders a reference ID as the ASCII code it holds at stratum
// 0 and 1, or as a dotted IPv4 address above.
func RefIDString(id uint32, stratum uint8) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], id)
	if stratum <= 1 {
		n := 0
		for n < 4 && b[n] >= ' ' && b[n] < 0x7f {
			n++
		}
		for i := n; i < 4; i++ {
			if b[i] != 0 {
				return fmt.Sprintf("%#08x", id)
			}
		}
		return string(b[:n])
	}
	return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
}
