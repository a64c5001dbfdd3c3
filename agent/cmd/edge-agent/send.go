package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"edge-agent/transport/filerecv"
)

func sendClient(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	legacy := fs.Bool("legacy", false, "bare seed framing: no checksum, no acknowledgement")
	as := fs.String("as", "", "store the file under this name (one file only)")
	resume := fs.Bool("resume", false, "continue an interrupted upload of the same file")
	token := fs.String("token", os.Getenv("EDGE_FILE_TOKEN"), "the receiver's shared secret (default $EDGE_FILE_TOKEN)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up connecting after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge-agent send [--legacy] [--as NAME] [--resume] [--token T] HOST[:PORT] FILE...")
		fmt.Fprintln(stderr, "  flags may come before or after HOST and the files; -- ends them")
		fmt.Fprintln(stderr, "  (send HOST -- --as sends a file named --as)")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	if fs.NArg() < 2 || (*as != "" && fs.NArg() != 2) || (*legacy && *resume) {
		fs.Usage()
		return exitUsage
	}
	addr := withDefaultPort(fs.Arg(0), "8080")
	opts := filerecv.SendOptions{Legacy: *legacy, Resume: *resume, Token: *token}
	bar := newProgress(stderr)
	failed := 0
	var s *filerecv.Sender
	for _, path := range fs.Args()[1:] {
		name := *as
		if name == "" {
			name = filepath.Base(path)
		}
		if s == nil {
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			var err error
			s, err = filerecv.Dial(ctx, addr, opts)
			cancel()
			if err != nil {
				fmt.Fprintf(stderr, "edge-agent send: %v\n", err)
				return exitFailure
			}
			defer s.Close()
		}
		start := time.Now()
		s.SetProgress(bar.update(name, start))
		res, err := s.Send(context.Background(), path, name)
		bar.clear()
		var refused *filerecv.ReplyError
		switch {
		case errors.As(err, &refused):
			failed++
			fmt.Fprintf(stderr, "%s: refused by the server: %s: %s\n", name, refused.Code, refused.Message)
		case err != nil:
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			s.Close()
			s = nil // the connection is in an unknown state; the next file gets a new one
		case *legacy:
			fmt.Fprintf(stdout, "%s: %s sent in %v (no acknowledgement in legacy mode)\n", name, size(res.Size), time.Since(start).Round(time.Millisecond))
		default:
			resumed := ""
			if res.ResumedFrom > 0 {
				resumed = fmt.Sprintf(", resumed at %s", size(res.ResumedFrom))
			}
			fmt.Fprintf(stdout, "%s: %s stored and verified in %v%s, sha256 %s\n", res.Name, size(res.Size), time.Since(start).Round(time.Millisecond), resumed, res.SHA256)
		}
	}
	if failed > 0 {
		return exitFailure
	}
	return exitOK
}

// progress draws a one-line bar on a terminal and nothing elsewhere.
type progress struct {
	w    io.Writer
	tty  bool
	last time.Time
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.tty = err == nil
	}
	return p
}

func (p *progress) update(name string, start time.Time) func(done, total int64) {
	if !p.tty {
		return nil
	}
	return func(done, total int64) {
		now := time.Now()
		if now.Sub(p.last) < 100*time.Millisecond && done < total {
			return
		}
		p.last = now
		pct := 100
		if total > 0 {
			pct = int(done * 100 / total)
		}
		elapsed := now.Sub(start).Seconds()
		rate := float64(done) / max(elapsed, 1e-3)
		eta := "-"
		if rate > 0 && done < total {
			eta = time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second).String()
		}
		fmt.Fprintf(p.w, "\r\x1b[K%-24.24s %3d%% %9s / %-9s %9s/s  ETA %s", name, pct, size(done), size(total), size(int64(rate)), eta)
	}
}

func (p *progress) clear() {
	if p.tty {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// size writes n bytes for a person: 512 B, 3.4 MiB, 1.0 GiB.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
