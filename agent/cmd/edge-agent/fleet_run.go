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

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/actions"
	"edge-agent/agent/authz"
	"edge-agent/transport/mqtt/fleet"
)

const fleetRunUsage = `usage: edge-agent fleet run ACTION [ARGS...] (--device ID ... | --all)
                            [--key FILE] [--timeout 30s] [--broker URL]
                            [login flags as for edge-agent fleet]
  asks devices to run ACTION (restart, reboot, poweroff, script:NAME, with
  ARGS for a script), signed with an SSH key: --key names a private key
  without a passphrase, or a public key whose private half is in ssh-agent;
  without --key, ssh-agent's only key. One line per device; exit status 1
  if any refused, failed or did not answer within --timeout. ARGS that
  start with - go after --.
`

// deviceList is a repeatable --device flag.
type deviceList []string

func (d *deviceList) String() string { return strings.Join(*d, ",") }
func (d *deviceList) Set(v string) error {
	if v == "" || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != "" {
		return errors.New("a device id is letters, digits, _ and -")
	}
	*d = append(*d, v)
	return nil
}

func fleetRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	login := addLoginFlags(fs)
	var devices deviceList
	fs.Var(&devices, "device", "a device to ask, by id; repeat for more")
	all := fs.Bool("all", false, "ask every device the broker shows online")
	keyFile := fs.String("key", "", "SSH key to sign with: a private key without passphrase, or the public key of one in ssh-agent (default: ssh-agent's only key)")
	timeout := fs.Duration("timeout", 30*time.Second, "wait this long for the replies")
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
	case *all == (len(devices) > 0):
		return usage("name the devices with --device ID (repeated), or --all for every device online")
	case *timeout <= 0:
		return usage("--timeout must be positive")
	}
	cmd := authz.Command{Action: action, Args: actionArgs, Device: "x", Counter: 1}
	if err := cmd.Validate(); err != nil {
		return usage("%v", err)
	}

	signer, closer, err := runSigner(*keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet run: %v\n", strings.TrimPrefix(err.Error(), "authz: "))
		return exitFailure
	}
	if closer != nil {
		defer closer.Close()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w, code := login.watch(ctx, fs, 10*time.Second, "fleet run", stderr)
	if w == nil {
		return code
	}
	defer w.Close()
	if *all {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		w.Settle(sctx, 500*time.Millisecond)
		cancel()
		for _, d := range w.Devices() {
			if d.Online {
				devices = append(devices, d.ID)
			}
		}
		if len(devices) == 0 {
			fmt.Fprintf(stderr, "edge-agent fleet run: no device online under %s/ on %s\n", *login.prefix, *login.broker)
			return exitFailure
		}
	}

	by := ssh.FingerprintSHA256(signer.PublicKey())
	reqs := make([]fleet.Request, 0, len(devices))
	var last uint64
	for _, d := range devices {
		// A fresh counter per device, above any this run gave before:
		// devices keep the last one per key, whatever the clock says.
		last = max(uint64(time.Now().UnixNano()), last+1)
		cmd := authz.Command{Device: d, Action: action, Args: actionArgs, Counter: last}
		payload, err := authz.Sign(cmd, signer)
		if err != nil {
			fmt.Fprintf(stderr, "edge-agent fleet run: %s: %v\n", d, strings.TrimPrefix(err.Error(), "authz: "))
			return exitFailure
		}
		reqs = append(reqs, fleet.Request{Device: d, Payload: payload, Counter: last, By: by})
	}
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	answers, err := w.Run(rctx, action, reqs)
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet run: %v\n", err)
		return exitFailure
	}
	fleet.WriteRunTable(stdout, answers, *timeout)
	for _, a := range answers {
		if !a.Answered || !a.OK {
			return exitFailure
		}
	}
	return exitOK
}

// runSigner finds the key to sign with, as ssh-keygen -Y sign does: a
// private key file, or a public key file whose private half ssh-agent
// holds (also FILE.pub beside a private key that has a passphrase);
// without a file, ssh-agent's only key. The closer, when not nil, ends
// the connection to ssh-agent.
func runSigner(keyFile string) (ssh.Signer, io.Closer, error) {
	if keyFile == "" {
		return authz.AgentSigner("", nil)
	}
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--key: %w", err)
	}
	if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
		return authz.AgentSigner("", pub)
	}
	s, err := authz.SignerFromKeyFile(keyFile)
	if errors.Is(err, authz.ErrNoSigner) {
		if data, perr := os.ReadFile(keyFile + ".pub"); perr == nil {
			if pub, _, _, _, perr := ssh.ParseAuthorizedKey(data); perr == nil {
				if s, c, aerr := authz.AgentSigner("", pub); aerr == nil {
					return s, c, nil
				}
			}
		}
	}
	return s, nil, err
}
