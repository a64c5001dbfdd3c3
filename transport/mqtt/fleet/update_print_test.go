package fleet

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteUpdateTable(t *testing.T) {
	t0 := time.Date(2025, 12, 1, 10, 0, 0, 0, time.UTC)
	statuses := []UpdateStatus{
		{Device: "kitchen", From: "v1", To: "v2", Phase: UpdateHealthy, Sent: t0, Changed: t0.Add(42300 * time.Millisecond)},
		{Device: "garage", From: "v1", To: "v2", Phase: UpdateDownloading, Offline: true, Sent: t0, Changed: t0.Add(time.Second)},
		{Device: "shed", From: "v1\x1b[2J", To: "v2", Phase: UpdateRefused, Detail: "unknown_key: key SHA256:x\u202e is not", Sent: t0, Changed: t0.Add(time.Second)},
		{Device: "attic", From: "v1", To: "v2", Phase: UpdateTimedOut, Detail: "restarting", Sent: t0, Changed: t0.Add(5 * time.Minute)},
		{Device: "pi-zero", From: "v1", To: "v2", Phase: UpdateFailed, Detail: "no binary for linux/arm GOARM=6", Changed: t0},
		{Device: "cellar", From: "v2", To: "v2", Phase: UpdateAlready, Changed: t0},
		{Device: "porch", From: "v1", To: "v2", Phase: UpdateSkipped, Detail: "skipped: canary failed", Changed: t0},
		{Device: "loft", To: "v2", Phase: UpdateRolledBack, Detail: "health: no broker", Sent: t0, Changed: t0.Add(90 * time.Second)},
	}
	var out bytes.Buffer
	if err := WriteUpdateTable(&out, statuses, t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	want := `DEVICE   VERSION         STATE                                            TIME
kitchen  v1 → v2         healthy                                          42.3s
garage   v1 → v2         downloading (offline)                            2.0s
shed     v1\x1b[2J → v2  refused: unknown_key: key SHA256:x\u202e is not  1.0s
attic    v1 → v2         timed out in restarting                          5m0s
pi-zero  v1 → v2         no binary for linux/arm GOARM=6                  -
cellar   v2 → v2         already on v2                                    -
porch    v1 → v2         skipped: canary failed                           -
loft     - → v2          rolled back: health: no broker                   1m30s
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestWriteUpdateLine(t *testing.T) {
	t0 := time.Now()
	for _, tc := range []struct {
		s    UpdateStatus
		want string
	}{
		{UpdateStatus{Device: "pi-1", Phase: UpdateDownloading, Sent: t0, Changed: t0.Add(400 * time.Millisecond)}, "pi-1: downloading (0.4s)\n"},
		{UpdateStatus{Device: "pi-1", Phase: UpdateTimedOut, Detail: "sent", Sent: t0, Changed: t0.Add(5 * time.Minute)}, "pi-1: timed out in sent (5m0s)\n"},
		{UpdateStatus{Device: "pi-2", To: "v2", Phase: UpdateAlready, Changed: t0}, "pi-2: already on v2\n"},
		{UpdateStatus{Device: "pi\n3", Phase: UpdateRolledBack, Detail: "a\tb", Sent: t0, Changed: t0}, `pi\x0a3: rolled back: a\x09b (0.0s)` + "\n"},
	} {
		var out bytes.Buffer
		WriteUpdateLine(&out, tc.s)
		if out.String() != tc.want {
			t.Errorf("%q, want %q", out.String(), tc.want)
		}
	}
}

// On a terminal the table is drawn again over itself: up as many lines
// as it had, cleared, redrawn.
func TestUpdateViewRedrawsOnATerminal(t *testing.T) {
	t0 := time.Now()
	var out bytes.Buffer
	v := &UpdateView{W: &out, TTY: true, Now: func() time.Time { return t0 }}
	all := []UpdateStatus{{Device: "a", From: "v1", To: "v2", Phase: UpdateSent, Sent: t0}, {Device: "b", From: "v1", To: "v2", Phase: UpdateQueued}}
	v.Progress(all[:1], all)
	first := out.String()
	if strings.Contains(first, "\x1b[") || strings.Count(first, "\n") != 3 {
		t.Errorf("first drawing: %q", first)
	}
	out.Reset()
	all[0].Phase = UpdateVerifying
	v.Final(all)
	if !strings.HasPrefix(out.String(), "\x1b[3A\r\x1b[J") || !strings.Contains(out.String(), "verifying") {
		t.Errorf("redrawing: %q", out.String())
	}
}
