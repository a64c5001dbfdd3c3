package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"edge-agent/transport/ntp"
	"edge-agent/transport/ntp/protocol"
	"edge-agent/transport/texttime"
)

func timeClient(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("time", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "", "ask the text time service (seed 002) for the time in this strftime format")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a reply after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge-agent time [--format FMT] [--timeout D] HOST[:PORT]")
		fmt.Fprintln(stderr, "  SNTP query (port 123), or with --format the text time service (port 8080);")
		fmt.Fprintln(stderr, "  flags may come before or after HOST; -- ends them")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	textMode := false
	fs.Visit(func(f *flag.Flag) { textMode = textMode || f.Name == "format" })
	port := "123"
	if textMode {
		port = "8080"
	}
	addr := withDefaultPort(fs.Arg(0), port)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	if textMode {
		reply, err := texttime.Query(ctx, addr, *format)
		if err != nil {
			fmt.Fprintf(stderr, "edge-agent time: %v\n", err)
			return exitFailure
		}
		fmt.Fprintln(stdout, reply)
		return exitOK
	}
	r, err := ntp.Query(ctx, addr)
	if r != nil {
		printNTP(stdout, addr, r)
	}
	var kiss *ntp.KissError
	switch {
	case errors.Is(err, ntp.ErrUnsynchronised):
		fmt.Fprintf(stderr, "edge-agent time: %s is not synchronised (leap %v, stratum %d): do not follow it\n", addr, r.Leap, r.Stratum)
		return exitFailure
	case errors.As(err, &kiss):
		fmt.Fprintf(stderr, "edge-agent time: %s sent kiss-o'-death %s\n", addr, kiss.Code)
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "edge-agent time: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func printNTP(w io.Writer, addr string, r *ntp.Response) {
	fmt.Fprintf(w, "server     %s (NTPv%d)\n", addr, r.Version)
	fmt.Fprintf(w, "offset     %+.6f s\n", r.Offset.Seconds())
	fmt.Fprintf(w, "delay      %.6f s\n", r.Delay.Seconds())
	fmt.Fprintf(w, "stratum    %d\n", r.Stratum)
	fmt.Fprintf(w, "leap       %v\n", r.Leap)
	fmt.Fprintf(w, "reference  %s\n", protocol.RefIDString(r.ReferenceID, r.Stratum))
	fmt.Fprintf(w, "root       delay %.6f s, dispersion %.6f s\n", r.RootDelay.Duration().Seconds(), r.RootDispersion.Duration().Seconds())
}

// withDefaultPort adds port to a bare host or IP address (IPv6 too).
func withDefaultPort(hostport, port string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), port)
}
