package agent

import (
	"strings"
	"testing"
)

// An offer is a retained message anyone allowed on the topic can leave:
// read strictly and boundedly, before it is checked as update args.
func TestParseOffer(t *testing.T) {
	args, err := parseOffer([]byte(`{"version":"v2","url":"http://h:8999/edge-agent-linux-arm64","size":9000000,"sha256":"` + sha + `"}`))
	if err != nil || strings.Join(args, " ") != "v2 http://h:8999/edge-agent-linux-arm64 9000000 "+sha {
		t.Fatalf("good offer: %q %v", args, err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"empty", ``, "not JSON"},
		{"not an object", `["v2"]`, "not a JSON object"},
		{"missing sha256", `{"version":"v2","url":"http://h/x","size":1}`, "no sha256"},
		{"unknown key", `{"version":"v2","url":"http://h/x","size":1,"sha256":"x","force":true}`, "unknown key"},
		{"key twice", `{"version":"v2","version":"v3","url":"http://h/x","size":1,"sha256":"x"}`, "twice"},
		{"size as a string", `{"version":"v2","url":"http://h/x","size":"1","sha256":"x"}`, "not a string"},
		{"version as a number", `{"version":2,"url":"http://h/x","size":1,"sha256":"x"}`, "not a number"},
		{"null", `{"version":null,"url":"http://h/x","size":1,"sha256":"x"}`, "a string"},
		{"trailing data", `{"version":"v2","url":"http://h/x","size":1,"sha256":"x"} {}`, "after the JSON object"},
		{"too long", `{"version":"` + strings.Repeat("v", maxOffer) + `"}`, "over the limit"},
	} {
		if _, err := parseOffer([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(`{"version":"v2","url":"http://h:8999/x","size":9000000,"sha256":"` + sha + `"}`))
	f.Add([]byte(`{"size":1e99}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		args, err := parseOffer(data)
		if err != nil {
			return
		}
		if len(args) != 4 || len(data) > maxOffer {
			t.Fatalf("accepted %q as %q", data, args)
		}
		for _, a := range args {
			if a == "" {
				t.Fatalf("accepted %q with an empty field", data)
			}
		}
	})
}
