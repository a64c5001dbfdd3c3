// Command edge-agent runs the agent's services and small clients for them.
//
// Exit codes: 0 success, 1 failure at run time, 2 bad usage (or a
// configuration that edge-agent config finds invalid), 78 (EX_CONFIG of
// sysexits.h) a configuration that stops the services from starting:
// systemd is told not to restart on 78 alone. Not on 2, which is also how
// the Go runtime exits after a panic or the watchdog's SIGABRT: those
// are restarted (and a new version rolled back).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"edge-agent/agent"
)

const usage = `edge-agent: time, file, echo, status and serial services for a Linux device.

Usage:
  edge-agent [run]             run the services configured by EDGE_ variables
  edge-agent config [--markdown]
                               every EDGE_ variable: default, value, meaning
  edge-agent version [--update]
                               version, commit, Go version and target; with
                               --update the update slots: current, previous,
                               last update
  edge-agent echo [--udp] [--timeout D] HOST:PORT [MESSAGE...]
                               send MESSAGE (or each line of standard input)
                               to an echo server and print the reply
  edge-agent time [--format FMT] [--timeout D] HOST[:PORT]
                               query an SNTP server (port 123): offset, delay,
                               stratum, leap, reference; with --format the
                               text time service (port 8080)
  edge-agent send [--legacy] [--as NAME] [--resume] [--token T]
                  HOST[:PORT] FILE...
                               upload files to a receiver (port 8080),
                               verified with SHA-256 and acknowledged; a
                               progress bar on a terminal
  edge-agent fleet [--broker URL] [--prefix P] [--json] [--watch]
                   [--username U] [--password-file F] [--ca-file F]
                   [--cert-file F --key-file F]
                               every device on an MQTT broker: online or not,
                               version, uptime, IP, CPU temperature, last
                               state; login and TLS default to EDGE_MQTT_*
  edge-agent fleet run ACTION [ARGS...] (--device ID ... | --all)
                   [--key FILE] [--timeout 30s] [--json]
                   [login flags as above]
                               ask devices to run an action (restart,
                               reboot, poweroff, script:NAME), signed with
                               an SSH key or ssh-agent; a line per device
                               (or one JSON array)
  edge-agent fleet update --binaries DIR (--device ID ... | --all)
                   [--canary N] [--key FILE] [--listen ADDR] [--url BASE]
                               update devices (EDGE_UPDATE=on) to the
                               binaries of DIR (make cross), signed and
                               served from here; rolled back on a device
                               where the new version does not come up
  edge-agent ports [--json]    serial ports (USB VID:PID, serial number,
                               product), read from sysfs without opening any
  edge-agent help              this text

Flags may come before or after the other arguments; -- ends them.
edge-agent COMMAND --help lists a command's flags.
`

const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	exitConfig  = 78
)

// stopGrace bounds how long a shutdown may take before the process gives
// up on a clean one.
const stopGrace = 10 * time.Second

func main() {
	nameSlotProcess(os.Args)
	launch(os.Args, os.Stderr)
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runAgent(args, stderr)
	case "config":
		return printConfig(args, stdout, stderr)
	case "version", "--version":
		return versionCommand(args, stdout, stderr)
	case "echo":
		return echoClient(args, stdin, stdout, stderr)
	case "time":
		return timeClient(args, stdout, stderr)
	case "send":
		return sendClient(args, stdout, stderr)
	case "fleet":
		return fleetCommand(args, stdout, stderr)
	case "ports":
		return portsCommand(args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "edge-agent: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

func runAgent(args []string, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "edge-agent run: takes no arguments (configure with EDGE_ variables; see edge-agent config)\n")
		return exitUsage
	}
	cfg, err := agent.Load()
	if err != nil {
		printConfigErrors(stderr, err)
		// A new version that refuses the configuration is rolled back,
		// not left stopped: systemd does not restart after exitConfig.
		if failTrial("the configuration is refused: " + strings.ReplaceAll(err.Error(), "\n", "; ")) {
			return exitFailure
		}
		return exitConfig
	}
	log := agent.NewLogger(cfg.Log, stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	a := agent.New(cfg, log)
	// Bounds a stop for a signal and one for the restart action alike.
	a.RegisterOnStop(func() {
		time.AfterFunc(stopGrace, func() {
			fmt.Fprintf(stderr, "edge-agent: services did not stop within %v; exiting\n", stopGrace)
			os.Exit(exitFailure)
		})
	})
	err = a.Run(ctx)
	var be *agent.BindError
	switch {
	case errors.Is(err, agent.ErrRestart):
		return restartAgent(stderr)
	case errors.As(err, &be):
		fmt.Fprintf(stderr, "edge-agent: %v\n", be)
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "edge-agent: %v\n", err)
		return exitFailure
	}
	return exitOK
}

func printConfigErrors(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			fmt.Fprintf(w, "edge-agent: %v\n", e)
		}
		return
	}
	fmt.Fprintf(w, "edge-agent: %v\n", err)
}

func printConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	markdown := fs.Bool("markdown", false, "print the defaults as the Markdown table in README")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: edge-agent config [--markdown]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	if *markdown {
		agent.MarkdownVariables(stdout, agent.Variables(agent.Config{}))
		return exitOK
	}
	cfg, err := agent.Load()
	agent.PrintVariables(stdout, agent.Variables(cfg))
	if err != nil {
		printConfigErrors(stderr, err)
		return exitUsage
	}
	return exitOK
}
