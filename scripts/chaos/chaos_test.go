package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An honest failure is excused only by an outage of a class its protocol
// depends on, overlapping the attempt (grace included).
func TestOutagesExcuseOnlyOverlappingDependentFailures(t *testing.T) {
	out := &outages{}
	w := out.begin(brokerDown, "restart", time.Second)
	start := w.start
	out.finish(w, start.Add(2*time.Second))
	at := func(d time.Duration) time.Time { return start.Add(d) }
	for _, c := range []struct {
		mask   int
		t0, t1 time.Duration
		want   bool
	}{
		{brokerDown, -time.Second, -time.Millisecond, false},                 // before
		{brokerDown, -time.Second, time.Millisecond, true},                   // into it
		{brokerDown, 2500 * time.Millisecond, 4 * time.Second, true},         // within the grace
		{brokerDown, 3100 * time.Millisecond, 4 * time.Second, false},        // after the grace
		{firmwareDown, 0, time.Second, false},                                // another class
		{brokerDown | firmwareDown, 0, time.Second, true},                    // one of its classes
		{0, 0, time.Second, false},                                           // depends on none
		{brokerDown, 1500 * time.Millisecond, 1600 * time.Millisecond, true}, // inside
	} {
		if got := out.overlaps(c.mask, at(c.t0), at(c.t1)); got != c.want {
			t.Errorf("mask %b [%v, %v]: %v, want %v", c.mask, c.t0, c.t1, got, c.want)
		}
	}
	open := out.begin(firmwareDown, "unplug", 0)
	if !out.overlaps(firmwareDown, open.start.Add(time.Hour), open.start.Add(2*time.Hour)) {
		t.Error("an outage still on does not excuse an attempt that ends during it")
	}
}

func TestTallySplitsOutageFailures(t *testing.T) {
	out := &outages{}
	tl := newTally(out)
	k := tl.kind("ping", true, brokerDown)
	t0 := time.Now()
	tl.success(k, t0)
	tl.failure(k, t0, "no reply", "first")
	w := out.begin(brokerDown, "restart", time.Second)
	tl.failure(k, time.Now(), "no reply", "second")
	tl.success(k, time.Now())
	out.finish(w, time.Now())
	rate, n := k.rate()
	if n != 2 || rate != 0.5 || k.winTried != 2 || k.winOK != 1 {
		t.Errorf("rate %v of %d outside, %d/%d inside; want 0.5 of 2, 1/2", rate, n, k.winOK, k.winTried)
	}
	if k.firstFail != "no reply: first" || k.outcomes["(outage) no reply"] != 1 {
		t.Errorf("first failure %q, outcomes %v", k.firstFail, k.outcomes)
	}
	if tl.kind("ping", true, brokerDown) != k {
		t.Error("a kind asked for twice is two kinds")
	}
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// The end check accepts the latest acknowledged version or a later one
// whose answer was lost, and nothing else under a final name.
func TestCheckFiles(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string // name -> content on disk
		setup func(l *ledger)
		fails []string // checks that must fail
	}{
		{name: "latest acknowledged", files: map[string]string{"a": "v2"},
			setup: func(l *ledger) { l.ack("a", sum("v1")); l.ack("a", sum("v2")) }},
		{name: "older version", files: map[string]string{"a": "v1"},
			setup: func(l *ledger) { l.ack("a", sum("v1")); l.ack("a", sum("v2")) }, fails: []string{"acknowledged uploads kept"}},
		{name: "later version in doubt", files: map[string]string{"a": "v3"},
			setup: func(l *ledger) { l.ack("a", sum("v2")); l.inDoubt("a", sum("v3")) }},
		{name: "partial body", files: map[string]string{"a": "v"},
			setup: func(l *ledger) { l.ack("a", sum("v2")); l.inDoubt("a", sum("v3")) }, fails: []string{"acknowledged uploads kept"}},
		{name: "missing", files: map[string]string{},
			setup: func(l *ledger) { l.ack("a", sum("v1")) }, fails: []string{"acknowledged uploads kept"}},
		{name: "hostile file", files: map[string]string{"a": "v1", "hostile-7": "x"},
			setup: func(l *ledger) { l.ack("a", sum("v1")) }, fails: []string{"no partial or hostile file under a final name"}},
		{name: "temporary file left", files: map[string]string{"a": "v1", ".edge-tmp-1": "x"},
			setup: func(l *ledger) { l.ack("a", sum("v1")) }, fails: []string{"receiver's temporary files"}},
		{name: "kept resumable upload", files: map[string]string{"a": "v1", ".edge-partial-ab": "xyz"},
			setup: func(l *ledger) { l.ack("a", sum("v1")) }, fails: []string{"receiver's temporary files"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "received")
			os.Mkdir(dir, 0o755)
			for n, content := range c.files {
				os.WriteFile(filepath.Join(dir, n), []byte(content), 0o644)
			}
			fa := &fileAttacks{ledger: &ledger{}}
			fa.resumeBytes.Store(2) // less than the kept resumable upload holds
			c.setup(fa.ledger)
			chk := &checks{}
			checkFiles(dir, fa, chk)
			var failed []string
			for _, f := range chk.failed() {
				failed = append(failed, f.name)
			}
			if strings.Join(failed, ",") != strings.Join(c.fails, ",") {
				t.Errorf("failed checks %q, want %q (%+v)", failed, c.fails, chk.list)
			}
		})
	}
}

func TestJudges(t *testing.T) {
	valid := ntpService.valid()
	if bad := ntpService.judge(valid, make([]byte, 48)); bad != "" {
		t.Errorf("a 48-byte reply to a valid request: %s", bad)
	}
	if bad := ntpService.judge(valid[:47], make([]byte, 48)); bad == "" {
		t.Error("a reply to a short request passes")
	}
	modeTwo := append([]byte{4<<3 | 2}, valid[1:]...)
	if bad := ntpService.judge(modeTwo, make([]byte, 48)); bad == "" {
		t.Error("a reply to a mode 2 request passes")
	}
	if bad := timeService.judge([]byte("%c"), make([]byte, 73)); bad == "" {
		t.Error("a 73-byte reply to a 2-byte format passes (cap 64 + 4 x 2)")
	}
	if bad := timeService.judge([]byte("%Y\xff"), []byte("error: not UTF-8")); bad != "" {
		t.Errorf("an error reply to a format that is not UTF-8: %s", bad)
	}
	if bad := timeService.judge([]byte("%Y\x00"), []byte("2026")); bad == "" {
		t.Error("a time for a format with NUL passes")
	}
	if bad := echoService.judge([]byte("abc\xffz"), []byte("ABC\xffZ")); bad != "" {
		t.Errorf("the upper-cased echo: %s", bad)
	}
	if bad := echoService.judge([]byte("abc"), []byte("abc")); bad == "" {
		t.Error("an echo not upper-cased passes")
	}
}
