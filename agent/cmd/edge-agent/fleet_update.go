package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"edge-agent/agent/authz"
	"edge-agent/agent/update"
	"edge-agent/transport/mqtt/fleet"
)

const fleetUpdateUsage = `usage: edge-agent fleet update --binaries DIR (--device ID ... | --all)
                               [--canary N] [--key FILE] [--listen ADDR]
                               [--url BASE] [--version V] [--timeout 5m]
                               [login flags as for edge-agent fleet]
  updates devices to the version of the binaries in DIR (make cross writes
  them to dist/): signs each binary without a DIR/NAME.sig as ssh-keygen
  -Y sign -n edge-agent-update does (the key as for fleet run), serves
  the binaries and their signatures over HTTP on --listen, and sends each
  device a signed command naming the binary for its target. The devices
  fetch from --url (default http://the --listen address, which must then
  name one). A table of the devices; exit status 1 unless every device
  ends healthy on the version.
`

// actionUpdate is the action that asks a device to update.
const actionUpdate = "update"

func fleetUpdate(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("fleet update", flag.ContinueOnError)
	fset.SetOutput(stderr)
	login := addLoginFlags(fset)
	dir := fset.String("binaries", "", "directory of the binaries, one per target (make cross writes dist/)")
	targets := addFleetTargets(fset, "fleet update", "update")
	canary := fset.Int("canary", 0, "update the first N devices (by id) first, the rest only if all of them end healthy")
	listen := fset.String("listen", ":8999", "address the binaries are served on")
	baseURL := fset.String("url", "", "URL the devices fetch the binaries from, as http://ADDRESS:PORT (default: http://the --listen address)")
	version := fset.String("version", "", "the binaries' version, for binaries whose build information does not say (go build -trimpath)")
	timeout := fset.Duration("timeout", 5*time.Minute, "give each device this long from its command to run the new version")
	fset.Usage = func() {
		fmt.Fprint(stderr, fleetUpdateUsage)
		fset.PrintDefaults()
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "edge-agent fleet update: "+format+"\n", a...)
		return exitUsage
	}
	if err := parseFlags(fset, args); err != nil {
		return exitUsage
	}
	switch {
	case fset.NArg() != 0:
		return usage("takes no arguments: %q", fset.Arg(0))
	case *dir == "":
		return usage("name the directory of the binaries with --binaries DIR (make cross writes dist/)")
	case targets.problem() != "":
		return usage("%s", targets.problem())
	case *canary < 0:
		return usage("--canary must be 0 or more")
	case *timeout <= 0:
		return usage("--timeout must be positive")
	}
	if _, err := releaseBase(*baseURL, *listen, nil); err != nil {
		return usage("%v", err)
	}
	rel, err := readRelease(*dir, *version)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return usage("--binaries: %v", err)
	}
	if err != nil {
		return usage("%s", strings.ReplaceAll(err.Error(), "\n", "\nedge-agent fleet update: "))
	}
	if len(rel.Ignored) > 0 {
		fmt.Fprintf(stderr, "edge-agent fleet update: ignored in %s: %s\n", *dir, strings.Join(rel.Ignored, ", "))
	}

	signer, closeSigner := targets.signer(stderr)
	if signer == nil {
		return exitFailure
	}
	defer closeSigner()
	if err := signRelease(rel, signer, stderr); err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet update: %v\n", err)
		return exitFailure
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := startReleaseServer(*listen, rel, max(*timeout, time.Minute))
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet update: serving the binaries: %v\n", err)
		return exitFailure
	}
	stopServer := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Stop(sctx); err != nil {
			fmt.Fprintf(stderr, "edge-agent fleet update: serving the binaries: %v\n", err)
		}
	}
	base, err := releaseBase(*baseURL, *listen, srv.Addr())
	if err != nil {
		stopServer()
		return usage("%v", err)
	}
	fmt.Fprintf(stderr, "edge-agent fleet update: %s: %d binaries served on %s, fetched from %s/\n", rel.Version, len(rel.Binaries), srv.Addr(), base)

	code, names := updateFleet(ctx, fset, login, targets, rel, base, signer, *canary, *timeout, stdout, stderr)
	stopServer()
	served, others := srv.Served()
	writeServed(stdout, served, others, names)
	return code
}

// signRelease writes the signature of each binary that has none, and
// warns of an existing one that no device would accept.
func signRelease(rel *release, signer ssh.Signer, stderr io.Writer) error {
	for _, b := range rel.Binaries {
		sig := b.Path + ".sig"
		_, err := os.Lstat(sig)
		switch {
		case err == nil:
			if problem := checkSigFile(sig); problem != "" {
				fmt.Fprintf(stderr, "edge-agent fleet update: warning: %s: %s (delete it to sign again)\n", sig, problem)
			}
		case errors.Is(err, fs.ErrNotExist):
			if err := signBinary(b.Path, signer); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "edge-agent fleet update: signed %s\n", filepath.Base(sig))
		default:
			return err
		}
	}
	return nil
}

// updateFleet connects to the broker, updates the devices and shows how;
// it returns the exit status, and the device ids by the address the
// broker lists for each.
func updateFleet(ctx context.Context, fset *flag.FlagSet, login *loginFlags, targets *fleetTargets, rel *release, base string,
	signer ssh.Signer, canary int, timeout time.Duration, stdout, stderr io.Writer) (int, map[string]string) {
	w, code := login.watch(ctx, fset, 10*time.Second, "fleet update", stderr)
	if w == nil {
		return code, nil
	}
	defer w.Close()
	devices := targets.list(ctx, w, login, stderr)
	if len(devices) == 0 {
		return exitFailure, nil
	}
	byTarget := map[update.Target]distBinary{}
	for _, b := range rel.Binaries {
		byTarget[b.Target] = b
	}
	by := ssh.FingerprintSHA256(signer.PublicKey())
	command := func(id string, st fleet.UpdateState) (fleet.Request, error) {
		t := update.Target{GOOS: st.GOOS, GOARCH: st.GOARCH, GOARM: st.GOARM}
		b, ok := byTarget[t]
		if !ok {
			return fleet.Request{}, fmt.Errorf("no binary for %s", t)
		}
		cmd := authz.Command{Device: id, Action: actionUpdate, Counter: targets.counter(),
			Args: []string{rel.Version, base + "/" + url.PathEscape(b.Name), strconv.FormatInt(b.Size, 10), b.SHA256}}
		payload, err := authz.Sign(cmd, signer)
		if err != nil {
			return fleet.Request{}, fmt.Errorf("not sent: %v", strings.TrimPrefix(err.Error(), "authz: "))
		}
		return fleet.Request{Device: id, Payload: payload, Counter: cmd.Counter, By: by}, nil
	}
	view := &fleet.UpdateView{W: stdout, TTY: updateTTY(stdout)}
	res, err := w.Update(ctx, fleet.UpdateOptions{
		Devices: devices, Version: rel.Version, Canary: canary, Timeout: timeout,
		Command: command, Progress: view.Progress,
	})
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet update: %v\n", err)
		return exitFailure, nil
	}
	view.Final(res.Statuses)
	if res.Ignored > 0 {
		fmt.Fprintf(stderr, "edge-agent fleet update: %d messages about the devices were ignored: over %d bytes or not of the expected form\n", res.Ignored, fleet.MaxUpdatePayload)
	}
	names := map[string]string{}
	for _, d := range w.Devices() {
		if d.IP != "" {
			names[d.IP] = fleet.Printable(d.ID)
		}
	}
	for _, s := range res.Statuses {
		if !s.OK() {
			return exitFailure, names
		}
	}
	return exitOK, names
}

// updateTTY reports whether w is a terminal, where the table is redrawn
// in place.
func updateTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
