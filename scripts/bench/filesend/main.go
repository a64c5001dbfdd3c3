// Command filesend feeds and times the file receivers compared by
// scripts/bench-file.sh, so that every receiver gets the same fast sender
// and is timed the same way: from the first byte sent until the file has
// its full size under its final name.
//
// Modes:
//
//	send      connects to -addr and sends -file: with seed 003's framing
//	          (struct.pack('i') length, JSON header, the bytes) or, with
//	          -raw, the bytes alone; the body goes out with io.Copy, which
//	          is sendfile(2) from a file to a TCP socket. Then it half-closes
//	          and polls -dest until it has the file's size.
//	exec      runs the command after "--" (a sender of its own, such as
//	          edge-agent send, or dd) and then polls -dest the same way; the
//	          clock starts just before the command does.
//	listening exits 0 once something listens on TCP -port on this host,
//	          without connecting: a one-shot receiver such as socat would
//	          take a probe connection for the upload.
//	freeport  prints a currently free loopback TCP port.
//	report    reads the runs recorded by scripts/bench-file.sh on stdin and
//	          prints the tables of medians, ratios and targets.
//
// send and exec print one JSON line; with -rsspid they also report the
// largest VmRSS seen while the file was on its way and that process's
// VmHWM (its peak RSS since it started) at the end.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

type result struct {
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	MBps      float64 `json:"mbps"`
	SentSecs  float64 `json:"sent_seconds,omitempty"`
	RSSMaxKiB int64   `json:"rss_max_kib,omitempty"`
	HWMKiB    int64   `json:"hwm_kib,omitempty"`
}

func main() {
	mode := flag.String("mode", "", "send, exec, listening, freeport or report")
	addr := flag.String("addr", "", "send: receiver address, on loopback")
	file := flag.String("file", "", "send: file to send")
	name := flag.String("name", "", "send: file_name in the header (default: the file's base name)")
	raw := flag.Bool("raw", false, "send: the bytes only, no header")
	dest := flag.String("dest", "", "send, exec: where the file must appear")
	size := flag.Int64("size", -1, "exec: the size -dest must reach")
	timeout := flag.Duration("timeout", 5*time.Minute, "bound on the whole transfer (listening: on the wait)")
	rssPID := flag.Int("rsspid", 0, "send, exec: process whose RSS to sample")
	port := flag.Int("port", 0, "listening: TCP port")
	flag.String("command", "", "report: the command line to show")
	flag.String("host", "", "report: the host description to show")
	flag.String("notes", "", "report: lines for the Markdown block, separated by |")
	flag.Parse()

	var err error
	switch *mode {
	case "send":
		err = send(*addr, *file, *name, *raw, *dest, *timeout, *rssPID)
	case "exec":
		err = runExec(flag.Args(), *dest, *size, *timeout, *rssPID)
	case "listening":
		err = waitListening(*port, *timeout)
	case "freeport":
		err = freePort()
	case "report":
		err = report(os.Stdin, os.Stdout)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "filesend:", err)
		os.Exit(1)
	}
}

func send(addr, file, name string, raw bool, dest string, timeout time.Duration, rssPID int) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	// A benchmark sender pushes gigabytes as fast as it can: keep it on
	// this host whatever the address says.
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: only loopback addresses are accepted", addr)
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if name == "" {
		name = filepath.Base(file)
	}
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	tc := conn.(*net.TCPConn)
	if err := tc.SetDeadline(deadline); err != nil {
		return err
	}

	rss := startRSS(rssPID)
	start := time.Now()
	if !raw {
		hdr, err := json.Marshal(map[string]any{"file_name": name, "file_size": st.Size()})
		if err != nil {
			return err
		}
		// struct.pack('i') is native order: little-endian on every host
		// the agent targets (x86, ARM).
		frame := binary.LittleEndian.AppendUint32(nil, uint32(len(hdr)))
		if _, err := tc.Write(append(frame, hdr...)); err != nil {
			return err
		}
	}
	n, err := io.Copy(tc, f)
	if err != nil {
		return fmt.Errorf("after %d bytes: %w", n, err)
	}
	sent := time.Since(start)
	// socat ends its copy at EOF; the framed receivers know the size and
	// must not depend on it.
	if err := tc.CloseWrite(); err != nil {
		return err
	}
	done, err := waitSize(dest, st.Size(), deadline)
	if err != nil {
		return err
	}
	return emit(start, done, st.Size(), sent, rss)
}

func runExec(argv []string, dest string, size int64, timeout time.Duration, rssPID int) error {
	if len(argv) == 0 || dest == "" || size < 0 {
		return errors.New("exec wants -dest, -size and a command after --")
	}
	deadline := time.Now().Add(timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// The sender's own report goes to the log, not into the JSON line.
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	rss := startRSS(rssPID)
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	done, err := waitSize(dest, size, deadline)
	if err != nil {
		return err
	}
	return emit(start, done, size, 0, rss)
}

// waitSize polls path until it holds exactly size bytes. A millisecond
// between looks keeps the error small against transfers of a second or
// more while leaving the CPUs to the receiver.
func waitSize(path string, size int64, deadline time.Time) (time.Time, error) {
	var last int64 = -1
	for {
		st, err := os.Stat(path)
		now := time.Now()
		if err == nil {
			last = st.Size()
			if last == size {
				return now, nil
			}
			if last > size {
				return now, fmt.Errorf("%s has %d bytes, more than the %d sent", path, last, size)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return now, err
		}
		if now.After(deadline) {
			return now, fmt.Errorf("%s did not reach %d bytes in time (last size %d, -1 = absent)", path, size, last)
		}
		time.Sleep(time.Millisecond)
	}
}

type rssSampler struct {
	pid  int
	max  atomic.Int64
	stop chan struct{}
}

// startRSS samples the process's VmRSS every 10 ms, often enough to see a
// buffer that lives only while a file streams through.
func startRSS(pid int) *rssSampler {
	if pid <= 0 {
		return nil
	}
	s := &rssSampler{pid: pid, stop: make(chan struct{})}
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := procStatusKiB(pid, "VmRSS:"); v > s.max.Load() {
				s.max.Store(v)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func procStatusKiB(pid int, key string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v, _ := strconv.ParseInt(f[0], 10, 64)
				return v
			}
		}
	}
	return 0
}

func emit(start, done time.Time, size int64, sent time.Duration, rss *rssSampler) error {
	secs := done.Sub(start).Seconds()
	r := result{Bytes: size, Seconds: secs, MBps: float64(size) / secs / 1e6, SentSecs: sent.Seconds()}
	if rss != nil {
		close(rss.stop)
		r.RSSMaxKiB = max(rss.max.Load(), procStatusKiB(rss.pid, "VmRSS:"))
		r.HWMKiB = procStatusKiB(rss.pid, "VmHWM:")
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// waitListening reads the kernel's socket tables rather than connecting.
func waitListening(port int, timeout time.Duration) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("-port %d out of range", port)
	}
	want := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(timeout)
	for {
		for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			b, err := os.ReadFile(table)
			if err != nil {
				continue
			}
			for line := range strings.Lines(string(b)) {
				f := strings.Fields(line)
				// local_address is f[1], the state f[3]; 0A is LISTEN.
				if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on TCP port %d", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}
