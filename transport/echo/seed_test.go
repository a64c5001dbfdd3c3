package echo

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// The seed tutorials' clients must work unchanged against the agent.
func TestSeedClients(t *testing.T) {
	py := testenv.Python(t)
	s := &Server{}
	tcpAddr, _ := startTCP(t, s, false)
	_, tcpPort, _ := strings.Cut(tcpAddr, ":")
	udpPort := strconv.Itoa(startUDP(t, s).Port)

	for _, tc := range []struct {
		script string
		args   []string
		want   string
	}{
		{"seed_tcp_client.py", []string{tcpPort, "3"}, "b'HELLO'\nb'HELLO'\nb'HELLO'\n"},
		{"seed_sendall_client.py", []string{tcpPort}, "Sent: hello\nReceived: HELLO\n\n"},
		{"seed_udp_client.py", []string{udpPort, "3"}, "b'HELLO'\nb'HELLO'\nb'HELLO'\n"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, append([]string{"testdata/" + tc.script}, tc.args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if string(out) != tc.want {
				t.Errorf("output %q, want %q", out, tc.want)
			}
		})
	}
}
