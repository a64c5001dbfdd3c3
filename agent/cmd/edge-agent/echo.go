package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"edge-agent/transport/echo"
)

func echoClient(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	udp := fs.Bool("udp", false, "use UDP instead of TCP")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a reply after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge-agent echo [--udp] [--timeout D] HOST:PORT [MESSAGE...]")
		fmt.Fprintln(stderr, "  flags may come before or after HOST:PORT and the message; -- ends them")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return exitUsage
	}
	network := "tcp"
	if *udp {
		network = "udp"
	}
	addr := fs.Arg(0)
	send := func(msg string) error {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		reply, err := echo.Exchange(ctx, network, addr, []byte(msg))
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("no reply from %s within %v", addr, *timeout)
			}
			return err
		}
		fmt.Fprintf(stdout, "%s\n", reply)
		return nil
	}
	if fs.NArg() > 1 {
		if err := send(strings.Join(fs.Args()[1:], " ")); err != nil {
			fmt.Fprintf(stderr, "edge-agent echo: %v\n", err)
			return exitFailure
		}
		return exitOK
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		if err := send(sc.Text()); err != nil {
			fmt.Fprintf(stderr, "edge-agent echo: %v\n", err)
			return exitFailure
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "edge-agent echo: reading input: %v\n", err)
		return exitFailure
	}
	return exitOK
}
