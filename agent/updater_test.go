package agent

import (
	"strings"
	"testing"

	"edge-agent/agent/update"
)

const sha = "36fce23cfdce6581ed87fd5196e931344ad008f9759db6d709cecac5ea197c39"

// The args of an update command come from whoever could sign one; they
// are checked before anything is fetched.
func TestParseUpdateArgs(t *testing.T) {
	c, src, err := parseUpdateArgs([]string{"v2.0.0", "http://10.0.0.1:8999/edge-agent-linux-arm64", "9000000", strings.ToUpper(sha)}, 64<<20)
	if err != nil || c.Version != "v2.0.0" || c.Size != 9000000 || c.SHA256 != sha || src != "http://10.0.0.1:8999/edge-agent-linux-arm64" {
		t.Fatalf("good args: %+v %q %v", c, src, err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want update.Reason
	}{
		{"no args", nil, update.Malformed},
		{"three args", []string{"v2", "http://h/x", "1"}, update.Malformed},
		{"five args", []string{"v2", "http://h/x", "1", sha, "x"}, update.Malformed},
		{"file URL", []string{"v2", "file:///etc/shadow", "1", sha}, update.Malformed},
		{"no host", []string{"v2", "http:///x", "1", sha}, update.Malformed},
		{"user in URL", []string{"v2", "http://u:p@h/x", "1", sha}, update.Malformed},
		{"fragment", []string{"v2", "http://h/x#y", "1", sha}, update.Malformed},
		{"not a URL", []string{"v2", "http://h/%zz", "1", sha}, update.Malformed},
		{"size zero", []string{"v2", "http://h/x", "0", sha}, update.Malformed},
		{"negative size", []string{"v2", "http://h/x", "-5", sha}, update.Malformed},
		{"size not a number", []string{"v2", "http://h/x", "1e6", sha}, update.Malformed},
		{"size over the limit", []string{"v2", "http://h/x", "67108865", sha}, update.Size},
	} {
		if _, _, err := parseUpdateArgs(tc.args, 64<<20); update.ReasonOf(err) != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzParseUpdateArgs(f *testing.F) {
	f.Add("v2.0.0", "http://10.0.0.1:8999/edge-agent-linux-arm64", "9000000", sha)
	f.Add("", "https://h", "1", "")
	f.Fuzz(func(t *testing.T, version, src, size, sum string) {
		c, u, err := parseUpdateArgs([]string{version, src, size, sum}, 64<<20)
		if err != nil {
			if update.ReasonOf(err) == 0 {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if c.Size < 1 || c.Size > 64<<20 || !(strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) {
			t.Fatalf("accepted %+v %q", c, u)
		}
	})
}
