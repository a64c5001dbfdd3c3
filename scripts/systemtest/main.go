// Command systemtest is the host-side driver of scripts/system-test.sh,
// which boots Debian with systemd in qemu and runs edge-agent there. The
// script owns the virtual machine (boots, reboots, power cuts); this
// program owns what needs exact bookkeeping:
//
//	upload -addr A -cycle N -ledger F   uploaders until SIGTERM (the power is cut meanwhile)
//	check [-baseline] -ledger F < LISTING  the received directory after a boot against the ledger
//	totals -ledger F                    the power-cut totals
//	clock -guest CMD ...                uploads, echo and MQTT across clock steps in the guest
//	limits                              one burst at the SNTP and echo rate limits
//	state PATH...  < STATE              fields of the agent's MQTT state JSON
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "systemtest: "+format+"\n", args...)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "upload":
		err = uploadCmd(args)
	case "check":
		err = checkCmd(args)
	case "totals":
		err = totalsCmd(args)
	case "clock":
		err = clockCmd(args)
	case "state":
		err = stateCmd(args)
	case "limits":
		err = limitsCmd(args)
	default:
		usage()
	}
	if err != nil {
		say("%s: %v", cmd, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: systemtest upload|check|totals|clock|limits|state ... (see the package comment)")
	os.Exit(2)
}

func uploadCmd(args []string) error {
	fs := flag.NewFlagSet("upload", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "the agent's file receiver")
	cycle := fs.Int("cycle", 0, "number of this run, part of the new files' names")
	clients := fs.Int("clients", 3, "uploaders at once (the agent allows 4 connections per source, and the guest sees every host connection from 10.0.2.2)")
	path := fs.String("ledger", "", "ledger file, read and written")
	fs.Parse(args)
	led, err := loadLedger(*path)
	if err != nil {
		return err
	}
	before := led.Totals
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stop := make(chan struct{})
	go func() {
		<-sig
		close(stop)
	}()
	runUploads(*addr, *cycle, *clients, led, stop)
	if err := led.save(*path); err != nil {
		return err
	}
	t := led.Totals
	fmt.Printf("acknowledged %d (%d new, %d replacements, %d KiB), interrupted %d\n",
		t.Acks-before.Acks, t.NewFiles-before.NewFiles, t.ReplacementsDone-before.ReplacementsDone,
		(t.BytesAcked-before.BytesAcked)>>10, t.InFlightAtCut-before.InFlightAtCut)
	return nil
}

func checkCmd(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	path := fs.String("ledger", "", "ledger file, read and settled on what the listing shows")
	baseline := fs.Bool("baseline", false, "take the listing as acknowledged: the files there before the first cut")
	fs.Parse(args)
	led, err := loadLedger(*path)
	if err != nil {
		return err
	}
	if *baseline {
		if err := led.adopt(os.Stdin); err != nil {
			return err
		}
		return led.save(*path)
	}
	before := led.Totals
	problems, err := led.check(os.Stdin)
	if err != nil {
		return err
	}
	if err := led.save(*path); err != nil {
		return err
	}
	t := led.Totals
	fmt.Printf("%d acknowledged uploads intact, %d lost, %d wrong, %d unexpected; %d replacements interrupted left the previous version; of the versions sent in full without an answer %d published, %d not\n",
		t.Checked-before.Checked, t.Lost-before.Lost, t.Wrong-before.Wrong, t.Unexpected-before.Unexpected,
		t.ReplacementsCut-before.ReplacementsCut, t.DoubtKept-before.DoubtKept, t.DoubtGone-before.DoubtGone)
	for _, p := range problems {
		fmt.Println("  " + p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems in the received directory", len(problems))
	}
	return nil
}

func totalsCmd(args []string) error {
	fs := flag.NewFlagSet("totals", flag.ExitOnError)
	path := fs.String("ledger", "", "ledger file")
	fs.Parse(args)
	led, err := loadLedger(*path)
	if err != nil {
		return err
	}
	t := led.Totals
	fmt.Printf("cuts %d, acknowledged uploads checked %d, lost %d, wrong %d, unexpected %d; uploads acknowledged %d (%d MiB), interrupted by a cut %d (replacements that left the previous version %d; versions sent in full, unanswered, published %d, not %d)\n",
		t.Cuts, t.Checked, t.Lost, t.Wrong, t.Unexpected, t.Acks, t.BytesAcked>>20, t.InFlightAtCut,
		t.ReplacementsCut, t.DoubtKept, t.DoubtGone)
	if t.Lost+t.Wrong+t.Unexpected > 0 {
		return fmt.Errorf("%d lost, %d wrong, %d unexpected", t.Lost, t.Wrong, t.Unexpected)
	}
	return nil
}

// stateCmd prints the fields of the state JSON on stdin named by dotted
// paths (services.file.counters.expired), one "path=value" a line.
func stateCmd(paths []string) error {
	var st map[string]any
	if err := json.NewDecoder(os.Stdin).Decode(&st); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	for _, p := range paths {
		v, err := lookup(st, p)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(v)
		fmt.Printf("%s=%s\n", p, strings.Trim(string(b), `"`))
	}
	return nil
}

func lookup(st map[string]any, path string) (any, error) {
	var v any = st
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("state: %s: %q is not an object", path, k)
		}
		if v, ok = m[k]; !ok {
			return nil, fmt.Errorf("state: %s: no %q", path, k)
		}
	}
	return v, nil
}
