package agent

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by the Makefile: -X edge-agent/agent.version=...
var (
	version = "dev"
	commit  = ""
)

// BuildInfo says what binary this is.
type BuildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	ARM     string `json:"goarm,omitempty"` // GOARM for 32-bit ARM builds: 6 or 7
}

// Build returns the build information of the running binary.
func Build() BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "GOARM":
				b.ARM = s.Value
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			}
		}
	}
	return b
}

func (b BuildInfo) String() string {
	s := fmt.Sprintf("edge-agent %s", b.Version)
	if b.Commit != "" {
		s += " commit " + b.Commit
	}
	s += fmt.Sprintf(" %s %s/%s", b.Go, b.OS, b.Arch)
	if b.ARM != "" {
		s += " GOARM=" + b.ARM
	}
	return s
}
