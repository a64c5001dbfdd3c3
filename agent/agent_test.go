package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"edge-agent/transport/echo"
	"edge-agent/transport/filerecv"
	"edge-agent/transport/ntp"
	"edge-agent/transport/texttime"
)

func testConfig(t *testing.T) Config {
	return Config{
		File: FileConfig{Addr: "127.0.0.1:0", Dir: t.TempDir(), MaxSize: 1 << 20, MaxConns: 4, MaxConnsPerSource: 4,
			HeaderTimeout: time.Second, IdleTimeout: time.Second, PartialTTL: time.Hour},
		Echo: EchoConfig{Addr: "127.0.0.1:0", MaxConns: 100, IdleTimeout: time.Minute},
		NTP:  NTPConfig{Addr: "127.0.0.1:0", Stratum: 3, FallbackStratum: 10},
		Time: TimeConfig{Addr: "127.0.0.1:0"},
		MQTT: MQTTConfig{URL: Off},
	}
}

// start runs a until the test ends and returns its status once bound.
func start(t *testing.T, a *Agent) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for a.Status().Started.IsZero() {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("agent did not start")
		}
		time.Sleep(time.Millisecond)
	}
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not return within 2s of cancel")
		}
		return nil
	}
	t.Cleanup(func() { stop() })
	return stop
}

func TestRunServesEchoOverTCPAndUDPAndStops(t *testing.T) {
	a := New(testConfig(t), nil)
	stop := start(t, a)
	addr := a.Status().Services[0].Addr
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, network := range []string{"tcp", "udp"} {
		got, err := echo.Exchange(ctx, network, addr, []byte("hello"))
		if err != nil || string(got) != "HELLO" {
			t.Fatalf("%s echo: %q, %v", network, got, err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Counters are bumped just after each reply is sent; poll for them.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := a.Status()
		if st.Services[0].Name == "echo" && st.Services[0].Counters["udp_datagrams_out"] == 1 && st.Services[0].Counters["tcp_bytes_out"] == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after one echo each way: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("open connection after shutdown: %v; want it closed", err)
	}
}

func TestRunWithEveryServiceOff(t *testing.T) {
	c := testConfig(t)
	c.Echo.Addr, c.NTP.Addr, c.Time.Addr, c.File.Addr, c.MQTT.URL = Off, Off, Off, Off, Off
	a := New(c, nil)
	stop := start(t, a)
	for _, s := range a.Status().Services {
		if s.Addr != Off || s.Counters != nil {
			t.Errorf("status of a service that is off: %+v", s)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunServesTimeOverSNTPAndText(t *testing.T) {
	a := New(testConfig(t), nil)
	start(t, a)
	addrs := map[string]string{}
	for _, s := range a.Status().Services {
		addrs[s.Name] = s.Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := ntp.Query(ctx, addrs["ntp"])
	if err != nil || (r.Stratum != 10 && r.Stratum != 3) {
		t.Fatalf("SNTP: %+v %v", r, err)
	}
	year, err := texttime.Query(ctx, addrs["time"], "%Y")
	if err != nil || year != time.Now().Format("2006") {
		t.Fatalf("text time: %q %v", year, err)
	}
}

func TestRunReceivesFilesAndRecordsEvents(t *testing.T) {
	c := testConfig(t)
	a := New(c, nil)
	start(t, a)
	var addr string
	for _, s := range a.Status().Services {
		if s.Name == "file" {
			addr = s.Addr
		}
	}
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("payload"), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snd, err := filerecv.Dial(ctx, addr, filerecv.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	if _, err := snd.Send(ctx, src, "doc.txt"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(c.File.Dir, "doc.txt")); string(got) != "payload" {
		t.Errorf("stored %q", got)
	}
	events, next := a.Events(0)
	if len(events) != 1 || events[0].Kind != "file_received" || next != 1 {
		t.Fatalf("events %+v next %d", events, next)
	}
	if r, ok := events[0].Data.(filerecv.Received); !ok || r.Name != "doc.txt" || r.Size != 7 || !r.Verified {
		t.Errorf("event data %+v", events[0].Data)
	}
	if more, _ := a.Events(next); len(more) != 0 {
		t.Errorf("events after %d: %+v", next, more)
	}
}

func TestRunReportsAnUnusableFileDirectory(t *testing.T) {
	c := testConfig(t)
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o600)
	c.File.Dir = filepath.Join(blocker, "sub") // under a regular file: cannot exist
	err := New(c, nil).Run(context.Background())
	var be *BindError
	if !errors.As(err, &be) || be.Var != "EDGE_FILE_DIR" || !strings.Contains(err.Error(), "file: cannot use directory") {
		t.Fatalf("Run = %v, want a BindError naming EDGE_FILE_DIR", err)
	}
}

func TestRunReportsAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := testConfig(t)
	c.Echo.Addr = ln.Addr().String()
	err = New(c, nil).Run(context.Background())
	var be *BindError
	if !errors.As(err, &be) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Run = %v, want a BindError for EADDRINUSE", err)
	}
	if be.Service != "echo" || be.Var != "EDGE_ECHO_ADDR" || be.Addr != c.Echo.Addr {
		t.Errorf("BindError %+v", be)
	}
	for _, want := range []string{"echo", c.Echo.Addr, "EDGE_ECHO_ADDR", "another port"} {
		if !contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
}

func TestBindErrorHints(t *testing.T) {
	for _, tc := range []struct {
		action string
		err    error
		want   string
	}{
		{"", syscall.EACCES, "CAP_NET_BIND_SERVICE"},
		{"", syscall.EADDRINUSE, "another program"},
		{"", syscall.EADDRNOTAVAIL, "no interface"},
		{"", errors.New("other"), "check EDGE_X"},
		{"use directory", syscall.EACCES, "cannot write there"},
		{"read", syscall.EACCES, "cannot read it"},
	} {
		be := &BindError{Service: "x", Action: tc.action, Addr: ":1", Var: "EDGE_X", Err: tc.err}
		if !contains(be.Error(), tc.want) {
			t.Errorf("%v: %q lacks %q", tc.err, be.Error(), tc.want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestAFailingServiceIsAnEvent(t *testing.T) {
	c := testConfig(t)
	c.Echo.Addr, c.NTP.Addr, c.Time.Addr, c.File.Addr = Off, Off, Off, Off
	a := New(c, nil)
	boom := errors.New("disk on fire")
	a.services = append(a.services, &service{
		name: "boom", envVar: "EDGE_BOOM", addr: "here", counters: nil,
		bind: func(string) (string, func(context.Context) error, error) {
			return "here", func(context.Context) error { return boom }, nil
		},
	})
	if err := a.Run(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the service's error", err)
	}
	events, _ := a.Events(0)
	if len(events) != 1 || events[0].Kind != "service_error" {
		t.Fatalf("events %+v", events)
	}
	if d, _ := events[0].Data.(map[string]string); d["service"] != "boom" || d["error"] != "disk on fire" {
		t.Errorf("event data %+v", events[0].Data)
	}
}

// The functions registered with RegisterOnStop run as soon as a stop
// begins, here one for the restart action, while a service is still
// stopping: main bounds that time with them.
func TestOnStopRunsWhenAStopBegins(t *testing.T) {
	c := testConfig(t)
	c.Echo.Addr, c.NTP.Addr, c.Time.Addr, c.File.Addr = Off, Off, Off, Off
	a := New(c, nil)
	serving, release := make(chan struct{}), make(chan struct{})
	a.services = append(a.services, &service{
		name: "slow", envVar: "EDGE_SLOW", addr: "here",
		bind: func(string) (string, func(context.Context) error, error) {
			return "here", func(ctx context.Context) error {
				close(serving)
				<-ctx.Done()
				<-release
				return nil
			}, nil
		},
	})
	stopping := make(chan struct{})
	a.RegisterOnStop(func() { close(stopping) })
	returned := make(chan struct{})
	var runErr error
	go func() { runErr = a.Run(context.Background()); close(returned) }()
	let := sync.OnceFunc(func() { close(release) })
	defer func() {
		let()
		a.actions.restart() // stops Run if a check failed first
		<-returned
	}()
	<-serving
	select {
	case <-stopping:
		t.Fatal("the stop functions ran before a stop")
	default:
	}
	if err := a.actions.restart(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopping:
	case <-time.After(10 * time.Second):
		t.Fatal("the stop functions did not run when the restart began")
	}
	select {
	case <-returned:
		t.Fatalf("Run returned (%v) while a service was stopping", runErr)
	default:
	}
	let()
	<-returned
	if !errors.Is(runErr, ErrRestart) {
		t.Errorf("Run = %v, want ErrRestart", runErr)
	}
}
