package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"edge-agent/transport/filerecv"
)

// uploadTimeout bounds one honest upload of at most 2 MiB on loopback.
const uploadTimeout = 30 * time.Second

// ledger records what the honest uploaders were told: for each name, the
// SHA-256 of the latest acknowledged version, and the versions sent in
// full after it whose acknowledgement never came (the connection failed
// after the last byte), which the agent may or may not have published.
type ledger struct {
	mu    sync.Mutex
	files map[string]*record
}

type record struct {
	acked string   // hex SHA-256 of the latest acknowledged version, "" if none
	doubt []string // versions sent in full since, with no answer
	acks  int
}

func (l *ledger) get(name string) *record {
	if l.files == nil {
		l.files = map[string]*record{}
	}
	r, ok := l.files[name]
	if !ok {
		r = &record{}
		l.files[name] = r
	}
	return r
}

func (l *ledger) ack(name, sum string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.get(name)
	r.acked, r.doubt = sum, nil
	r.acks++
}

func (l *ledger) inDoubt(name, sum string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.get(name)
	r.doubt = append(r.doubt, sum)
}

// uploadSize: mostly small files, some of a few hundred KiB, a few of
// up to 2 MiB.
func uploadSize() int {
	switch p := rand.IntN(100); {
	case p < 70:
		return rand.IntN(16 << 10)
	case p < 95:
		return 16<<10 + rand.IntN(240<<10)
	default:
		return 256<<10 + rand.IntN(1792<<10)
	}
}

// uploader is one honest sender from src: every period it connects and
// sends one to three files with sha256 (in the header or after the body)
// and ack, under names only it uses, so the latest acknowledged version
// of each name is well defined.
func uploader(ctx context.Context, t *tally, k *kind, led *ledger, src netip.Addr, addr, token string, id int, period time.Duration) {
	honestConns(ctx, t, k, src, addr, period, func(ctx context.Context, c *net.TCPConn, t0 time.Time) {
		for n := 1 + rand.IntN(3); n > 0; n-- {
			name := fmt.Sprintf("honest-%d-%d.bin", id, rand.IntN(6))
			data := randomBytes(uploadSize())
			sum := sha256.Sum256(data)
			hexSum := hex.EncodeToString(sum[:])
			h := filerecv.Header{FileName: name, FileSize: int64(len(data)), Ack: true, Token: token}
			if rand.IntN(2) == 0 {
				h.SHA256Follows = true
			} else {
				h.SHA256 = sum[:]
			}
			c.SetDeadline(time.Now().Add(uploadTimeout))
			reason, detail, full := sendOne(c, h, data, hexSum)
			switch {
			case ctx.Err() != nil:
				// Cut by the end of the run: a body sent in full may
				// still be published.
				if reason != "" && full {
					led.inDoubt(name, hexSum)
				} else if reason == "" {
					led.ack(name, hexSum)
				}
				return
			case reason == "":
				led.ack(name, hexSum)
				t.success(k, t0)
			default:
				if full {
					led.inDoubt(name, hexSum)
				}
				t.failure(k, t0, reason, detail)
				if !strings.HasPrefix(reason, "refused") {
					return // the connection is in an unknown state
				}
			}
			t0 = time.Now()
		}
	})
}

// reply is a frame from the receiver.
type reply struct {
	Status  string `json:"status"`
	Offset  int64  `json:"offset"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// sendOne sends one file and reads the answers. It returns "" when the
// file was acknowledged as sent, else a reason for the table and a
// detail, and whether every byte of the body went out (so the agent may
// have published it although no acknowledgement came).
func sendOne(c interface {
	Write([]byte) (int, error)
	Read([]byte) (int, error)
}, h filerecv.Header, data []byte, hexSum string) (reason, detail string, full bool) {
	if err := filerecv.WriteHeader(c, h, rand.IntN(4) == 0); err != nil {
		return classify(err), err.Error(), false
	}
	var r reply
	if err := filerecv.ReadFrame(c, &r); err != nil {
		return classify(err), "ready: " + err.Error(), false
	}
	if r.Status != "ready" {
		return "refused: " + r.Code, r.Message, false
	}
	if r.Offset != 0 {
		return "wrong reply", fmt.Sprintf("ready at offset %d for a new upload", r.Offset), false
	}
	if _, err := c.Write(data); err != nil {
		return classify(err), "body: " + err.Error(), false
	}
	if h.SHA256Follows {
		trailer, _ := filerecv.AppendFrame(nil, map[string]string{"sha256": hexSum})
		if _, err := c.Write(trailer); err != nil {
			return classify(err), "trailer: " + err.Error(), true
		}
	}
	r = reply{}
	if err := filerecv.ReadFrame(c, &r); err != nil {
		return classify(err), "result: " + err.Error(), true
	}
	switch {
	case r.Status != "ok":
		return "refused: " + r.Code, r.Message, false
	case r.Size != h.FileSize || r.SHA256 != hexSum:
		return "wrong reply", fmt.Sprintf("acknowledged %d bytes %s, sent %d %s", r.Size, r.SHA256, h.FileSize, hexSum), true
	}
	return "", "", true
}
