package authz_test

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"

	"edge-agent/agent/authz"
)

// The whole flow: the operator signs a command with an SSH key, the
// device checks it against its authorized_keys and its replay counters,
// and refuses the same payload the second time.
func Example() {
	// The operator's side. A key file: authz.SignerFromKeyFile; a key in
	// ssh-agent: authz.AgentSigner.
	signer, _ := ssh.NewSignerFromKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)))
	payload, err := authz.Sign(authz.Command{Device: "pi-1", Action: "reboot", Counter: 1764547200123456789}, signer)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The device's side.
	dir, _ := os.MkdirTemp("", "authz")
	defer os.RemoveAll(dir)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey()))) + " op@laptop\n"
	keys, err := authz.ParseAuthorizedKeys([]byte(line))
	if err != nil {
		fmt.Println(err)
		return
	}
	store, _ := authz.OpenStore(filepath.Join(dir, "replay-counters.json"))
	v := authz.NewVerifier(keys, store)

	cmd, key, err := v.Authorize(payload, "pi-1", "reboot")
	fmt.Println(cmd.Action, cmd.Counter, key.Comment, err)

	_, _, err = v.Authorize(payload, "pi-1", "reboot")
	var ref *authz.Refusal
	if errors.As(err, &ref) {
		fmt.Println(ref.Reason)
	}
	_, _, err = v.Authorize([]byte("PRESS"), "pi-1", "reboot")
	fmt.Println(authz.ReasonOf(err))
	// Output:
	// reboot 1764547200123456789 op@laptop <nil>
	// replay
	// malformed
}

// The signed text of a command, as an operator may also write it by hand
// and sign with ssh-keygen -Y sign -n edge-agent.
func ExampleCommand_Marshal() {
	text, _ := authz.Command{Device: "pi-1", Action: "script:backup", Args: []string{"--full"}, Counter: 1}.Marshal()
	fmt.Println(string(text))
	// Output:
	// {"device":"pi-1","action":"script:backup","args":["--full"],"counter":1}
}
