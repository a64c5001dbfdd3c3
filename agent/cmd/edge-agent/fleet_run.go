package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/actions"
	"edge-agent/agent/authz"
	"edge-agent/transport/mqtt/fleet"
)

const fleetRunUsage = `usage: edge-agent fleet run ACTION [ARGS...] (--device ID ... | --all)
                            [--key FILE] [--timeout 30s] [--json] [--broker URL]
                            [login flags as for edge-agent fleet]
  asks devices to run ACTION (restart, reboot, poweroff, script:NAME, with
  ARGS for a script), signed with an SSH key: --key names a private key
  without a passphrase, or a public key whose private half is in ssh-agent;
  without --key, ssh-agent's only key. One line per device; exit status 1
  if any refused, failed or did not answer within --timeout; --json
  prints one JSON array instead. ARGS that start with - go after --.
`

func fleetRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	login := addLoginFlags(fs)
	targets := addFleetTargets(fs, "fleet run", "ask")
	timeout := fs.Duration("timeout", 30*time.Second, "wait this long for the replies")
	asJSON := fs.Bool("json", false, "print the answers as one JSON array instead of a table")
	fs.Usage = func() {
		fmt.Fprint(stderr, fleetRunUsage)
		fs.PrintDefaults()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "edge-agent fleet run: "+format+"\n", a...)
		return exitUsage
	}
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	action, actionArgs := fs.Arg(0), fs.Args()[1:]
	script, err := actions.ParseAction(action)
	switch {
	case err != nil:
		return usage("%v", strings.TrimPrefix(err.Error(), "actions: "))
	case script == "" && len(actionArgs) > 0:
		return usage("%s takes no arguments; only script:NAME does", action)
	case targets.problem() != "":
		return usage("%s", targets.problem())
	case *timeout <= 0:
		return usage("--timeout must be positive")
	}
	cmd := authz.Command{Action: action, Args: actionArgs, Device: "x", Counter: 1}
	if err := cmd.Validate(); err != nil {
		return usage("%v", err)
	}

	signer, closeSigner := targets.signer(stderr)
	if signer == nil {
		return exitFailure
	}
	defer closeSigner()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w, code := login.watch(ctx, fs, 10*time.Second, "fleet run", stderr)
	if w == nil {
		return code
	}
	defer w.Close()
	devices := targets.list(ctx, w, login, stderr)
	if len(devices) == 0 {
		return exitFailure
	}

	by := ssh.FingerprintSHA256(signer.PublicKey())
	reqs := make([]fleet.Request, 0, len(devices))
	for _, d := range devices {
		cmd := authz.Command{Device: d, Action: action, Args: actionArgs, Counter: targets.counter()}
		payload, err := authz.Sign(cmd, signer)
		if err != nil {
			fmt.Fprintf(stderr, "edge-agent fleet run: %s: %v\n", d, strings.TrimPrefix(err.Error(), "authz: "))
			return exitFailure
		}
		reqs = append(reqs, fleet.Request{Device: d, Payload: payload, Counter: cmd.Counter, By: by})
	}
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	answers, err := w.Run(rctx, action, reqs)
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet run: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		fleet.WriteRunJSON(stdout, answers)
	} else {
		fleet.WriteRunTable(stdout, answers, *timeout)
	}
	for _, a := range answers {
		if !a.Answered || !a.OK {
			return exitFailure
		}
	}
	return exitOK
}
