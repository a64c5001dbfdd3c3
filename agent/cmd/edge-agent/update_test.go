package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"edge-agent/internal/updatetest"
	"edge-agent/transport/testenv"
)

// Signed updates against the built agent, with mosquitto as the broker
// and a test in systemd's place (it restarts the agent when it exits and
// listens on $NOTIFY_SOCKET): refusals before anything runs, a good
// update committed once the new version reached the broker, and versions
// that exit at once, hang, or cannot reach the broker rolled back by the
// launcher at the next start, which then reports update_failed.
func TestUpdateSignedWithRollback(t *testing.T) {
	s := newActionsSetup(t)
	const dev = "pi-up"
	bins := t.TempDir()
	v2 := buildAgent(t, bins, "v2.0.0-test")
	v4 := buildAgent(t, bins, "v4.0.0-test")
	helper := func(spec updatetest.Spec) string {
		path, err := updatetest.Build(bins, spec)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	exits := helper(updatetest.Spec{Name: "exits", Version: "v3.0.0-exits", OnRun: "fail"})
	hangs := helper(updatetest.Spec{Name: "hangs", Version: "v3.0.0-hangs", OnRun: "hang"})
	foreign := "arm64"
	if runtime.GOARCH == "arm64" {
		foreign = "amd64"
	}
	otherArch := helper(updatetest.Spec{Name: "foreign", Version: "v3.0.0-foreign", GOARCH: foreign})

	rel := serveOffers(t)
	m := testenv.StartMosquitto(t)
	proxy := testenv.StartProxy(t, m.Addr)
	base := "edge/" + dev
	op := newOperator(t, m.URL, "", "", base+"/cmd/update/reply", base+"/state", base+"/events/+")
	notify := listenNotify(t)
	stateDir := t.TempDir()
	env := append(s.env(""), "EDGE_DEVICE_ID="+dev, "EDGE_UPDATE=on", "EDGE_MQTT_URL="+proxy.URL(),
		"EDGE_UPDATE_HEALTH_WINDOW=5s", "NOTIFY_SOCKET="+notify.path, "WATCHDOG_USEC=400000", "STATE_DIRECTORY="+stateDir)

	p := startActionsAgent(t, env...)
	testenv.WaitFor(t, "READY=1", func() bool { return notify.count("READY=1") == 1 })
	testenv.WaitFor(t, "watchdog keep-alives", func() bool { return notify.count("WATCHDOG=1") >= 3 })
	st := op.stateWhere(t, dev, func(st deviceState) bool { return st.Update.Enabled })
	if st.Version != "dev" || st.GOARCH != runtime.GOARCH || st.Update.Slot != "" || st.Update.Last != nil {
		t.Errorf("first state: %+v", st)
	}
	if b, err := os.ReadFile(filepath.Join(stateDir, "slots", "current")); err != nil || string(b) != "a\n" {
		t.Fatalf("slots made at the first start: %q %v", b, err)
	}

	ask := func(args []string) actionReply {
		t.Helper()
		payload, c := signed(t, s.key, dev, "update", args...)
		return op.ask(t, dev, "update", payload, c)
	}
	good := rel.offer(t, "v2", v2, s.key, "v2.0.0-test")
	tampered := good
	tampered.url = rel.srv.URL + "/v2-tampered"
	data, _ := os.ReadFile(v2)
	data[len(data)/2] ^= 1
	os.WriteFile(filepath.Join(rel.dir, "v2-tampered"), data, 0o644)
	sig, _ := os.ReadFile(filepath.Join(rel.dir, "v2.sig"))
	os.WriteFile(filepath.Join(rel.dir, "v2-tampered.sig"), sig, 0o644)
	strangers := rel.offer(t, "v2-stranger", v2, s.stranger, "v2.0.0-test")
	misnamed := rel.offer(t, "v2-as-v9", v2, s.key, "v9.0.0")
	missing := good
	missing.url = rel.srv.URL + "/nothing-here"
	for _, tc := range []struct {
		name string
		args []string
		code string
	}{
		{"tampered", tampered.args(), "checksum"},
		{"signed by an unlisted key", strangers.args(), "unknown_key"},
		{"another version inside", misnamed.args(), "version"},
		{"another architecture", rel.offer(t, "foreign", otherArch, s.key, "v3.0.0-foreign").args(), "architecture"},
		{"not on the server", missing.args(), "download"},
		{"too few args", good.args()[:3], "malformed"},
		{"size over the limit", []string{"v2", good.url, "999999999999", good.sha}, "size"},
	} {
		r := ask(tc.args)
		if r.OK || r.Code != tc.code {
			t.Errorf("%s: reply %+v, want code %s", tc.name, r, tc.code)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(stateDir, "slots", "current")); string(b) != "a\n" {
		t.Errorf("a refused update switched slots: current %q", b)
	}

	// A good update: installed, restarted in place (same process, as
	// systemd sees it), committed once the broker is reached.
	r := ask(good.args())
	if !r.OK || !strings.Contains(r.Result.Output, "installed v2.0.0-test in slot b") {
		t.Fatalf("good update: %+v", r)
	}
	for _, phase := range []string{"downloading", "verifying", "restarting"} {
		op.eventData(t, dev, "update", func(d map[string]string) bool { return d["phase"] == phase && d["version"] == "v2.0.0-test" })
	}
	st = op.stateWhere(t, dev, func(st deviceState) bool { return st.Version == "v2.0.0-test" && !st.Update.Trial })
	if st.Update.Slot != "b" || st.Update.PreviousVersion != "dev" || st.Update.Trial || st.Update.Last == nil || st.Update.Last.Result != "committed" {
		t.Errorf("after the update: %+v (last %+v)", st.Update, st.Update.Last)
	}
	if d := op.eventData(t, dev, "update_committed", nil); d["from"] != "dev" || d["to"] != "v2.0.0-test" {
		t.Errorf("update_committed %v", d)
	}
	testenv.WaitFor(t, "READY=1 from the new version", func() bool { return notify.count("READY=1") == 2 })
	out, err := command(context.Background(), []string{"STATE_DIRECTORY=" + stateDir}, "version", "--update").CombinedOutput()
	for _, want := range []string{"edge-agent dev ", "current:  slot b, v2.0.0-test", "previous: slot a, dev", "last update: dev -> v2.0.0-test: committed"} {
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("version --update (%v) does not say %q:\n%s", err, want, out)
		}
	}
	select {
	case <-p.exited:
		t.Fatalf("the agent exited on its update: %v", p.cmd.ProcessState)
	default:
	}
	// Named as the command was, not after slot b's file.
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p.cmd.Process.Pid)); err != nil || string(comm) != filepath.Base(binary)+"\n" {
		t.Errorf("the process runs slot b named %q (%v), want %q", comm, err, filepath.Base(binary))
	}

	// rollBack updates to bad, waits for the process to end (killing it
	// after the health window when kill, as systemd's start timeout
	// would), starts the launcher again and returns the reason reported.
	rollBack := func(bad offered, kill bool, during func()) string {
		t.Helper()
		r := ask(bad.args())
		if !r.OK {
			t.Fatalf("update to %s: %+v", bad.version, r)
		}
		op.eventData(t, dev, "update", func(d map[string]string) bool { return d["phase"] == "restarting" && d["version"] == bad.version })
		if during != nil {
			during()
		}
		readies := notify.count("READY=1")
		if kill {
			time.Sleep(6 * time.Second) // the health window, in which nothing may say READY=1
			if n := notify.count("READY=1"); n != readies {
				t.Errorf("%s said READY=1", bad.version)
			}
			p.cmd.Process.Kill()
		}
		select {
		case <-p.exited:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s still running 30 s after its update", bad.version)
		}
		if kill || p.cmd.ProcessState.Success() {
			t.Logf("%s ended: %v", bad.version, p.cmd.ProcessState)
		}
		p = startActionsAgent(t, env...)
		d := op.eventData(t, dev, "update_failed", func(d map[string]string) bool { return d["to"] == bad.version })
		if d["from"] != "v2.0.0-test" {
			t.Errorf("update_failed %v", d)
		}
		st := op.stateWhere(t, dev, func(st deviceState) bool {
			return st.Update.Last != nil && st.Update.Last.To == bad.version
		})
		if st.Version != "v2.0.0-test" || st.Update.Slot != "b" || st.Update.Last.Result != "rolled_back" {
			t.Errorf("after rolling back %s: version %s, %+v, last %+v", bad.version, st.Version, st.Update, st.Update.Last)
		}
		return d["reason"]
	}
	if why := rollBack(rel.offer(t, "exits", exits, s.key, "v3.0.0-exits"), false, nil); !strings.Contains(why, "did not commit") {
		t.Errorf("exits at once: reason %q", why)
	}
	if why := rollBack(rel.offer(t, "hangs", hangs, s.key, "v3.0.0-hangs"), true, nil); !strings.Contains(why, "did not commit") {
		t.Errorf("hangs: reason %q", why)
	}
	noBroker := func() { proxy.Refuse(true); proxy.Cut() }
	why := rollBack(rel.offer(t, "v4", v4, s.key, "v4.0.0-test"), false, func() {
		noBroker()
		t.Cleanup(func() { proxy.Refuse(false) })
		exited := p.exited
		go func() {
			<-exited
			proxy.Refuse(false)
		}()
	})
	if !strings.Contains(why, "health window") {
		t.Errorf("no broker: reason %q", why)
	}
}
