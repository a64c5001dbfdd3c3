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
	"edge-agent/transport/mqtt/fleet"
)

const fleetUsage = `usage: edge-agent fleet [--broker URL] [--prefix P] [--json] [--watch]
                        [--username U] [--password-file F] [--ca-file F]
                        [--cert-file F --key-file F]
  every device on an MQTT broker. The login and TLS flags default to the
  agent's EDGE_MQTT_* variables: with /etc/default/edge-agent in the
  environment, fleet logs in to the broker as the agent does.
`

func fleetCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "run" {
		return fleetRun(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "update" {
		return fleetUpdate(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	login := addLoginFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON, one array (with --watch, one array per change)")
	watch := fs.Bool("watch", false, "keep following and print again on every change")
	timeout := fs.Duration("timeout", 10*time.Second, "give up connecting after this long")
	fs.Usage = func() {
		fmt.Fprint(stderr, fleetUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil || fs.NArg() != 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	w, code := login.watch(ctx, fs, *timeout, "fleet", stderr)
	if w == nil {
		return code
	}
	defer w.Close()
	// The retained messages arrive in a burst; a pause ends it.
	sctx, cancel := context.WithTimeout(ctx, *timeout)
	w.Settle(sctx, 500*time.Millisecond)
	cancel()
	printFleet(stdout, stderr, w, *asJSON)
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
			printFleet(stdout, stderr, w, *asJSON)
		}
	}
}

// loginFlags are the flags of every fleet command that say which broker
// to use and how to log in to it, defaulting to the agent's variables.
type loginFlags struct {
	broker, prefix, username *string
	files                    agent.MQTTClientFiles
	fileFlags                []loginFileFlag
}

type loginFileFlag struct {
	f          *agent.MQTTFile
	flag, vari string
}

func addLoginFlags(fs *flag.FlagSet) *loginFlags {
	l := &loginFlags{
		broker:   fs.String("broker", defaultBroker(), "broker URL (default: $EDGE_MQTT_URL, else the embedded broker's address)"),
		prefix:   fs.String("prefix", envOr(agent.Prefix+"_MQTT_PREFIX", "edge"), "topic prefix the agents publish under"),
		username: fs.String("username", os.Getenv(agent.Prefix+"_MQTT_USERNAME"), "user name for the broker (default $EDGE_MQTT_USERNAME)"),
	}
	for _, ff := range []struct {
		f          *agent.MQTTFile
		flag, vari string
		usage      string
	}{
		{&l.files.Password, "password-file", agent.Prefix + "_MQTT_PASSWORD_FILE", "file holding the broker password"},
		{&l.files.CA, "ca-file", agent.Prefix + "_MQTT_CA_FILE", "PEM CA certificates for ssl:// and wss:// brokers; empty: the system's"},
		{&l.files.Cert, "cert-file", agent.Prefix + "_MQTT_CERT_FILE", "PEM client certificate, with --key-file"},
		{&l.files.Key, "key-file", agent.Prefix + "_MQTT_KEY_FILE", "PEM private key of the client certificate"},
	} {
		fs.StringVar(&ff.f.Path, ff.flag, os.Getenv(ff.vari), ff.usage+" (default $"+ff.vari+")")
		l.fileFlags = append(l.fileFlags, loginFileFlag{ff.f, ff.flag, ff.vari})
	}
	return l
}

// watch reads the login files and connects, within timeout. On failure it
// has said why on stderr and returns the exit code.
func (l *loginFlags) watch(ctx context.Context, fs *flag.FlagSet, timeout time.Duration, cmd string, stderr io.Writer) (*fleet.Watcher, int) {
	// A message about a file names what set it: the flag, else the
	// variable; an unset one names both ways to set it.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, ff := range l.fileFlags {
		switch {
		case set[ff.flag]:
			ff.f.Name = "--" + ff.flag
		case os.Getenv(ff.vari) != "":
			ff.f.Name = ff.vari
		default:
			ff.f.Name = "--" + ff.flag + " or " + ff.vari
		}
	}
	password, tlsConf, err := l.files.Load()
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent %s: %v\n", cmd, err)
		return nil, exitFailure
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	w, err := fleet.Watch(cctx, fleet.Options{Broker: *l.broker, Prefix: *l.prefix, Username: *l.username, Password: password, TLS: tlsConf})
	switch {
	case errors.Is(err, fleet.ErrRefused):
		fmt.Fprintf(stderr, "edge-agent %s: %v; check --username and --password-file (default $%s_MQTT_USERNAME and $%[3]s_MQTT_PASSWORD_FILE)\n", cmd, err, agent.Prefix)
		return nil, exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "edge-agent %s: %v\n", cmd, err)
		return nil, exitFailure
	}
	return w, exitOK
}

func printFleet(w, stderr io.Writer, fw *fleet.Watcher, asJSON bool) {
	if asJSON {
		fleet.WriteJSON(w, fw.Devices())
	} else {
		fleet.WriteTable(w, fw.Devices())
	}
	if n := fw.Ignored(); n > 0 {
		fmt.Fprintf(stderr, "edge-agent fleet: %d more device ids on the broker were not kept (at most %d are listed)\n", n, fleet.MaxDevices)
	}
}

// defaultBroker is the first broker the local agent is configured with.
func defaultBroker() string {
	u := os.Getenv(agent.Prefix + "_MQTT_URL")
	if u == "" || u == agent.Off {
		return "tcp://" + envOr(agent.Prefix+"_MQTT_EMBEDDED_ADDR", "127.0.0.1:1883")
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
