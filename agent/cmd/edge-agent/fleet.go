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
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	broker := fs.String("broker", defaultBroker(), "broker URL (default: $EDGE_MQTT_URL, else the embedded broker's address)")
	prefix := fs.String("prefix", envOr(agent.Prefix+"_MQTT_PREFIX", "edge"), "topic prefix the agents publish under")
	asJSON := fs.Bool("json", false, "print JSON, one array (with --watch, one array per change)")
	watch := fs.Bool("watch", false, "keep following and print again on every change")
	timeout := fs.Duration("timeout", 10*time.Second, "give up connecting after this long")
	username := fs.String("username", os.Getenv(agent.Prefix+"_MQTT_USERNAME"), "user name for the broker (default $EDGE_MQTT_USERNAME)")
	var files agent.MQTTClientFiles
	fileFlags := []struct {
		f          *agent.MQTTFile
		flag, vari string
		usage      string
	}{
		{&files.Password, "password-file", agent.Prefix + "_MQTT_PASSWORD_FILE", "file holding the broker password"},
		{&files.CA, "ca-file", agent.Prefix + "_MQTT_CA_FILE", "PEM CA certificates for ssl:// and wss:// brokers; empty: the system's"},
		{&files.Cert, "cert-file", agent.Prefix + "_MQTT_CERT_FILE", "PEM client certificate, with --key-file"},
		{&files.Key, "key-file", agent.Prefix + "_MQTT_KEY_FILE", "PEM private key of the client certificate"},
	}
	for _, ff := range fileFlags {
		fs.StringVar(&ff.f.Path, ff.flag, os.Getenv(ff.vari), ff.usage+" (default $"+ff.vari+")")
	}
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
	// A message about a file names what set it: the flag, else the
	// variable; an unset one names both ways to set it.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, ff := range fileFlags {
		switch {
		case set[ff.flag]:
			ff.f.Name = "--" + ff.flag
		case os.Getenv(ff.vari) != "":
			ff.f.Name = ff.vari
		default:
			ff.f.Name = "--" + ff.flag + " or " + ff.vari
		}
	}
	password, tlsConf, err := files.Load()
	if err != nil {
		fmt.Fprintf(stderr, "edge-agent fleet: %v\n", err)
		return exitFailure
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	w, err := fleet.Watch(cctx, fleet.Options{Broker: *broker, Prefix: *prefix, Username: *username, Password: password, TLS: tlsConf})
	cancel()
	switch {
	case errors.Is(err, fleet.ErrRefused):
		fmt.Fprintf(stderr, "edge-agent fleet: %v; check --username and --password-file (default $%s_MQTT_USERNAME and $%[2]s_MQTT_PASSWORD_FILE)\n", err, agent.Prefix)
		return exitFailure
	case err != nil:
		fmt.Fprintf(stderr, "edge-agent fleet: %v\n", err)
		return exitFailure
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
