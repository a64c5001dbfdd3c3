// Command helper stands in for edge-agent in the tests of agent/update: a
// candidate binary whose behaviour is fixed when it is linked (-X flags),
// because a candidate runs with an empty environment.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

var (
	version = "1.0.0"
	// line, when set, is printed by "version" instead of the real line.
	line = ""
	// onVersion and onRun are ok, fail (exit 1 at once) or hang.
	onVersion = "ok"
	onRun     = "ok"
	// marker, when set, is a file every start appends its command to:
	// how a test sees whether a binary was ever executed.
	marker = ""
)

func main() {
	cmd := "run"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	if marker != "" {
		if f, err := os.OpenFile(marker, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintln(f, version, cmd)
			f.Close()
		}
	}
	mode := onRun
	if cmd == "version" {
		mode = onVersion
	}
	switch mode {
	case "fail":
		fmt.Fprintln(os.Stderr, "helper: failing on purpose")
		os.Exit(1)
	case "hang":
		time.Sleep(time.Hour)
	}
	if cmd == "version" {
		if line == "" {
			line = realLine()
		}
		fmt.Println(line)
		return
	}
	fmt.Printf("running %s %s %s\n", version, strings.Join(os.Args[1:], " "), os.Getenv("HELPER_ENV"))
}

// realLine is what edge-agent version prints (agent.BuildInfo.String).
func realLine() string {
	s := fmt.Sprintf("edge-agent %s %s %s/%s", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range info.Settings {
			if kv.Key == "GOARM" {
				s += " GOARM=" + kv.Value
			}
		}
	}
	return s
}
