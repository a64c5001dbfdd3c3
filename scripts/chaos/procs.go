package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// children records the processes the driver starts in a file that
// scripts/chaos.sh reads on its way out, so none survives the driver
// being killed. Each child is also in its own process group (a Ctrl-C at
// the terminal reaches the script, which stops the driver, which stops
// them in order) and dies with the driver (Pdeathsig).
type children struct {
	mu   sync.Mutex
	path string
}

func (c *children) add(pid int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(c.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintln(f, pid)
	f.Close()
}

func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// agentProc is the agent under test.
type agentProc struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once Wait returned
	err    error         // Wait's result, once exited

	mu     sync.Mutex
	listen map[string]string // service -> address it reported listening on

	warns, errs atomic.Uint64 // log lines at WARN and ERROR
	panics      atomic.Uint64 // lines that start a Go panic or fatal error
	lastBad     atomic.Value  // the last WARN/ERROR line, for the report
	copied      sync.WaitGroup
}

var listenLine = regexp.MustCompile(`msg=listening service=(\S+) addr=(\S+)`)

// startAgent runs the agent binary with env added to the driver's own
// environment, its log (stderr and stdout) appended to logPath.
func startAgent(bin string, env []string, logPath string, kids *children) (*agentProc, error) {
	logf, err := os.OpenFile(logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childAttr()
	cmd.Stdout = logf
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	kids.add(cmd.Process.Pid)
	a := &agentProc{cmd: cmd, exited: make(chan struct{}), listen: map[string]string{}}
	a.copied.Go(func() { a.scan(pr, logf) })
	go func() {
		a.err = cmd.Wait()
		pw.Close()
		a.copied.Wait()
		logf.Close()
		close(a.exited)
	}()
	return a, nil
}

// scan copies the agent's log to the file and notes what the driver
// needs from it.
func (a *agentProc) scan(r io.Reader, w io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(w, line)
		switch {
		case strings.Contains(line, "level=WARN"):
			a.warns.Add(1)
			a.lastBad.Store(line)
		case strings.Contains(line, "level=ERROR"):
			a.errs.Add(1)
			a.lastBad.Store(line)
		case strings.HasPrefix(line, "panic:"), strings.HasPrefix(line, "fatal error:"):
			a.panics.Add(1)
			a.lastBad.Store(line)
		}
		if m := listenLine.FindStringSubmatch(line); m != nil {
			a.mu.Lock()
			a.listen[m[1]] = m[2]
			a.mu.Unlock()
		}
	}
	io.Copy(io.Discard, r)
}

func (a *agentProc) pid() int { return a.cmd.Process.Pid }

func (a *agentProc) running() bool {
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// awaitListening waits until every named service reported its address.
func (a *agentProc) awaitListening(services []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		a.mu.Lock()
		var missing []string
		for _, s := range services {
			if _, ok := a.listen[s]; !ok {
				missing = append(missing, s)
			}
		}
		a.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		if !a.running() {
			return fmt.Errorf("the agent exited during start-up (%v); see its log", a.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the agent did not report listening for %v within %v", missing, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits up to grace; it returns the exit code
// (-1 if it had to be killed or died of a signal) and how long it took.
func (a *agentProc) stop(grace time.Duration) (code int, took time.Duration) {
	t0 := time.Now()
	if a.running() {
		a.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-a.exited:
	case <-time.After(grace):
		a.cmd.Process.Kill()
		<-a.exited
		return -1, time.Since(t0)
	}
	return a.cmd.ProcessState.ExitCode(), time.Since(t0)
}

// mosquitto is the broker the agent publishes to, on a fixed loopback
// port so it can be restarted under the agent.
type mosquitto struct {
	bin, conf, logPath, addr string
	kids                     *children

	cmd    *exec.Cmd
	exited chan struct{}
}

func newMosquitto(bin, dir string, port int, kids *children) (*mosquitto, error) {
	m := &mosquitto{bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), logPath: filepath.Join(dir, "mosquitto.log"),
		addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), kids: kids}
	// No persistence: a restart forgets sessions and retained messages,
	// as a broker that lost its disk would. Without TCP_NODELAY its
	// small writes wait for delayed ACKs, and every round trip through
	// it would show 40 ms of Nagle instead of the agent.
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n"+
		"log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n", port)
	return m, os.WriteFile(m.conf, []byte(conf), 0o644)
}

func (m *mosquitto) url() string { return "tcp://" + m.addr }

// start runs the broker and returns once it accepts connections.
func (m *mosquitto) start() error {
	if m.cmd != nil {
		return errors.New("mosquitto: already running")
	}
	logf, err := os.OpenFile(m.logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mosquitto: %w", err)
	}
	m.kids.add(cmd.Process.Pid)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	m.cmd, m.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			m.cmd = nil
			return fmt.Errorf("mosquitto exited before listening on %s (log: %s)", m.addr, m.logPath)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mosquitto not listening on %s within 10s", m.addr)
		}
	}
}

// stop ends the broker (SIGTERM, SIGKILL after 5 s) and waits for it.
func (m *mosquitto) stop() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		m.cmd.Process.Kill()
		<-m.exited
	}
	m.cmd = nil
}

// procStatus reads the kB figures of /proc/PID/status (VmRSS, VmHWM,
// RssAnon, RssFile) and Threads.
func procStatus(pid int) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads":
			f := strings.Fields(v)
			if len(f) > 0 {
				out[k], _ = strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return out, nil
}

// freePort returns a loopback port free for both TCP and UDP, as a
// service listening on both (echo; file receiver and text time) needs.
func freePort() (int, error) {
	for range 50 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, errors.New("no loopback port free for both TCP and UDP")
}
