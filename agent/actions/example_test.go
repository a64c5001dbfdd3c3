package actions_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/actions"
	"edge-agent/agent/authz"
)

// A signed request to run a script, as the MQTT bridge hands it over:
// the topic's action, the payload, and whether the message was retained.
func ExampleRunner_Handle() {
	dir, _ := os.MkdirTemp("", "actions")
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "greet"), []byte("#!/bin/sh\necho \"hello, $1\"\n"), 0o755)

	// The operator's key, listed in the device's authorized_keys.
	signer, _ := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " op@laptop"
	keys, _ := authz.ParseAuthorizedKeys([]byte(line))
	store, _ := authz.OpenStore(filepath.Join(dir, "state", "replay-counters.json"))

	r, err := actions.New(actions.Config{
		Allowed:  []string{"script:greet", "reboot"},
		Dir:      dir,
		Verifier: authz.NewVerifier(keys, store),
		DeviceID: "pi-1",
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := authz.Sign(authz.Command{Device: "pi-1", Action: "script:greet", Args: []string{"world"}}, signer)

	res, err := r.Handle(context.Background(), "script:greet", payload, false)
	fmt.Printf("%q %s %v\n", res.Output, res.Key, err)
	_, err = r.Handle(context.Background(), "script:greet", payload, false)
	fmt.Println(authz.ReasonOf(err))
	_, err = r.Handle(context.Background(), "poweroff", payload, false)
	fmt.Println(authz.ReasonOf(err))
	// Output:
	// "hello, world\n" op@laptop <nil>
	// replay
	// not_allowed
}
