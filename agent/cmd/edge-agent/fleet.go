package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"edge-agent/transport/mqtt/fleet"
)

func fleetCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	broker := fs.String("broker", defaultBroker(), "broker URL (default: $EDGE_MQTT_URL, else the embedded broker's address)")
	prefix := fs.String("prefix", envOr("EDGE_MQTT_PREFIX", "edge"), "topic prefix the agents publish under")
	asJSON := fs.Bool("json", false, "print JSON, one array (with --watch, one array per change)")
	watch := fs.Bool("watch", false, "keep following and print again on every change")
	timeout := fs.Duration("timeout", 10*time.Second, "give up connecting after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge-agent fleet [--broker URL] [--prefix P] [--json] [--watch]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	w, err := fleet.Watch(cctx, *broker, *prefix)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet: %v\n", err)
		return exitFailure
	}
	defer w.Close()
	// The retained messages arrive in a burst; a pause ends it.
	sctx, cancel := context.WithTimeout(ctx, *timeout)
	w.Settle(sctx, 500*time.Millisecond)
	cancel()
	printFleet(stdout, w.Devices(), *asJSON)
	if !*watch {
		return exitOK
	}
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-w.Changed():
			w.Settle(ctx, 200*time.Millisecond)
			if !*asJSON {
				fmt.Fprintf(stdout, "\n%s\n", time.Now().Format(time.TimeOnly))
			}
			printFleet(stdout, w.Devices(), *asJSON)
		}
	}
}

func printFleet(w io.Writer, devices []fleet.Device, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(devices)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSTATUS\tVERSION\tUPTIME\tIP\tCPU TEMP\tLAST STATE")
	for _, d := range devices {
		status := "offline"
		if d.Online {
			status = "online"
		}
		temp := "-"
		if d.CPUTempC != nil {
			temp = fmt.Sprintf("%.1f °C", *d.CPUTempC)
		}
		last := "-"
		if !d.LastState.IsZero() {
			last = d.LastState.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, status, orDash(d.Version),
			(time.Duration(d.UptimeS) * time.Second).String(), orDash(d.IP), temp, last)
	}
	tw.Flush()
	if len(devices) == 0 {
		fmt.Fprintln(w, "(no devices on this broker under this prefix)")
	}
}

// defaultBroker is the first broker the local agent is configured with.
func defaultBroker() string {
	u := os.Getenv("EDGE_MQTT_URL")
	if u == "" || u == "off" {
		return "tcp://" + envOr("EDGE_MQTT_EMBEDDED_ADDR", "127.0.0.1:1883")
	}
	first, _, _ := strings.Cut(u, ",")
	return strings.TrimSpace(first)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
