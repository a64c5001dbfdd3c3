package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"edge-agent/agent"
	"edge-agent/agent/update"
)

// defaultStateDir is the unit's StateDirectory=.
const defaultStateDir = "/var/lib/edge-agent"

// versionCommand prints this binary's version line (one line: installers
// and the update check read it), and with --update what the update
// slots of the state directory say: the version the service runs, the
// previous one, a version on trial, the last update's outcome.
func versionCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	withUpdate := fs.Bool("update", false, "also print the update slots of the state directory ($STATE_DIRECTORY, else "+defaultStateDir+"): current, previous and last update")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge-agent version [--update]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	fmt.Fprintln(stdout, agent.Build())
	if !*withUpdate {
		return exitOK
	}
	dir := os.Getenv("STATE_DIRECTORY")
	if dir == "" {
		dir = defaultStateDir
	}
	st, err := update.Open(dir, update.Options{}).State()
	switch {
	case errors.Is(err, update.ErrNoSlots):
		fmt.Fprintf(stdout, "update slots: none in %s: the service runs the installed binary (EDGE_UPDATE=on makes them at its start)\n", filepath.Join(dir, "slots"))
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "edge-agent version: %v\n", err)
		return exitFailure
	}
	writeSlots(stdout, filepath.Join(dir, "slots"), st)
	return exitOK
}

func writeSlots(w io.Writer, dir string, st update.State) {
	slot := func(s update.Slot) string {
		if !s.Valid() {
			return "none"
		}
		return fmt.Sprintf("slot %s, %s", s, st.Slots.Get(s).Version)
	}
	fmt.Fprintf(w, "update slots in %s:\n", dir)
	fmt.Fprintf(w, "  current:  %s\n", slot(st.Current))
	fmt.Fprintf(w, "  previous: %s\n", slot(st.Previous))
	if t := st.Trial; t != nil {
		fmt.Fprintf(w, "  on trial: slot %s, started %d of %d times", t.Slot, t.Attempts, t.MaxAttempts)
		if t.Failure != "" {
			fmt.Fprintf(w, ", failed: %s", t.Failure)
		}
		fmt.Fprintln(w)
	}
	if st.Last != nil {
		fmt.Fprintf(w, "  last update: %s\n", st.Last)
	}
}
