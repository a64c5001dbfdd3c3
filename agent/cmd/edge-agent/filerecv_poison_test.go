package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/filerecv"
)

// Someone who knows a file's name, size and SHA-256 plants a garbage
// prefix as its partial upload (a resumable upload cut midway). The
// honest `edge-agent send --resume` still stores the right file: the
// resumed upload fails to verify, the receiver drops the partial, and the
// client sends again from byte 0.
func TestSendResumeGetsPastAPoisonedPartial(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "received")
	addr := frStartReceiver(t, dir)
	data := frRandom(300_000)
	src := filepath.Join(t.TempDir(), "fw.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)

	c, err := frOffer(addr, filerecv.Header{FileName: "fw.bin", FileSize: int64(len(data)), SHA256: sum[:], Ack: true, Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Write(frRandom(150_000))
	c.Close()
	frWait(t, 10*time.Second, "the poisoned partial", func() bool {
		p := frPartials(t, dir)
		if len(p) != 1 {
			return false
		}
		info, err := os.Stat(filepath.Join(dir, p[0]))
		return err == nil && info.Size() == 150_000
	})
	// The receiver holds the name until it has seen the cut: an empty
	// upload under the same name is refused as busy until then.
	empty := sha256.Sum256(nil)
	frWait(t, 10*time.Second, "the receiver to let go of the name", func() bool {
		c, err := frOffer(addr, filerecv.Header{FileName: "fw.bin", SHA256: empty[:], Ack: true})
		if err != nil {
			return false
		}
		defer c.Close()
		var res struct{ Status string }
		return filerecv.ReadFrame(c, &res) == nil && res.Status == "ok"
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := command(ctx, nil, "send", "--resume", addr, src).CombinedOutput()
	if err != nil {
		t.Fatalf("send --resume after a poisoned partial: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "stored and verified") || strings.Contains(string(out), "resumed at") {
		t.Errorf("send said %q, want the file stored from the start", out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "fw.bin"))
	if err != nil || !bytes.Equal(got, data) {
		gotSum := sha256.Sum256(got)
		t.Fatalf("stored sha256 %s (%v), want %s", hex.EncodeToString(gotSum[:]), err, hex.EncodeToString(sum[:]))
	}
	if p := frPartials(t, dir); len(p) != 0 {
		t.Errorf("partials left: %v", p)
	}
}
