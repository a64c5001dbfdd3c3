package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/authz"
	"edge-agent/transport/mqtt/fleet"
)

// fleetTargets are the flags of a signed fleet command (fleet run, fleet
// update) that choose the devices and the key to sign with.
type fleetTargets struct {
	cmd     string // "fleet run", for messages
	devices deviceList
	all     *bool
	keyFile *string
	last    uint64 // the last counter given
}

// addFleetTargets defines --device, --all and --key on fs; verb says what
// the command does to a device ("ask", "update").
func addFleetTargets(fs *flag.FlagSet, cmd, verb string) *fleetTargets {
	t := &fleetTargets{cmd: cmd}
	fs.Var(&t.devices, "device", "a device to "+verb+", by id; repeat for more")
	t.all = fs.Bool("all", false, verb+" every device the broker shows online")
	t.keyFile = fs.String("key", "", "SSH key to sign with: a private key without passphrase, or the public key of one in ssh-agent (default: ssh-agent's only key)")
	return t
}

// problem says what is wrong with the flags as given, or "".
func (t *fleetTargets) problem() string {
	if *t.all == (len(t.devices) > 0) {
		return "name the devices with --device ID (repeated), or --all for every device online"
	}
	return ""
}

// signer finds the key (see runSigner); on failure it says why on stderr
// and returns nil. close ends the connection to ssh-agent, if any.
func (t *fleetTargets) signer(stderr io.Writer) (s ssh.Signer, close func()) {
	s, closer, err := runSigner(*t.keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent %s: %v\n", t.cmd, strings.TrimPrefix(err.Error(), "authz: "))
		return nil, nil
	}
	return s, func() {
		if closer != nil {
			closer.Close()
		}
	}
}

// list returns the devices named, or with --all those the broker shows
// online after its retained states have settled; none online is said on
// stderr and returns nil.
func (t *fleetTargets) list(ctx context.Context, w *fleet.Watcher, login *loginFlags, stderr io.Writer) []string {
	if !*t.all {
		return t.devices
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	w.Settle(sctx, 500*time.Millisecond)
	cancel()
	var online []string
	for _, d := range w.Devices() {
		if d.Online {
			online = append(online, d.ID)
		}
	}
	if len(online) == 0 {
		fmt.Fprintf(stderr, "edge-agent %s: no device online under %s/ on %s\n", t.cmd, *login.prefix, *login.broker)
	}
	return online
}

// counter returns a fresh counter, above any this run gave before:
// devices keep the last one per key, whatever the clock says.
func (t *fleetTargets) counter() uint64 {
	t.last = max(uint64(time.Now().UnixNano()), t.last+1)
	return t.last
}

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
