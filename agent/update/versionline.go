package update

import (
	"errors"
	"fmt"
	"strings"
)

// MaxVersionOutput bounds what a candidate's "version" may print that is
// kept; the rest is discarded and makes the output unreadable.
const MaxVersionOutput = 4 << 10

// VersionInfo is what a binary's "version" line says about it.
type VersionInfo struct {
	Version string
	Commit  string // "" when the line has none
	Go      string // the Go release it was built with, e.g. go1.26.8
	Target  Target
}

// ParseVersionLine reads the output of "edge-agent version", the line
// agent.BuildInfo.String prints, followed by one newline:
//
//	edge-agent VERSION[ commit COMMIT] GOVERSION GOOS/GOARCH[ GOARM=N]
//
// with single spaces between the fields, for example
//
//	edge-agent v1.4.0 commit 3f2c1e0 go1.26.8 linux/arm GOARM=6
//
// Anything else (another program, more lines, a devel Go version with
// spaces in it) is an error. This is the one place that knows the format.
func ParseVersionLine(out string) (VersionInfo, error) {
	var v VersionInfo
	if len(out) > MaxVersionOutput {
		return v, fmt.Errorf("output is over %d bytes", MaxVersionOutput)
	}
	line, ok := strings.CutSuffix(out, "\n")
	if !ok || strings.ContainsAny(line, "\r\n\t\x00") {
		return v, errors.New("output is not exactly one line")
	}
	f := strings.Split(line, " ")
	if len(f) < 4 || f[0] != "edge-agent" {
		return v, errors.New("not an edge-agent version line")
	}
	v.Version = f[1]
	if err := checkVersion(v.Version); err != nil {
		return VersionInfo{}, fmt.Errorf("version: %v", err)
	}
	f = f[2:]
	if f[0] == "commit" {
		if len(f) < 2 || !token(f[1]) {
			return VersionInfo{}, errors.New("commit: missing or not a token")
		}
		v.Commit, f = f[1], f[2:]
	}
	if len(f) < 2 || len(f) > 3 {
		return VersionInfo{}, errors.New("not GOVERSION GOOS/GOARCH[ GOARM=N] after the version")
	}
	if !strings.HasPrefix(f[0], "go") || !token(f[0]) {
		return VersionInfo{}, fmt.Errorf("the Go version %q does not start with go", f[0])
	}
	v.Go = f[0]
	var slash bool
	v.Target.GOOS, v.Target.GOARCH, slash = strings.Cut(f[1], "/")
	if !slash {
		return VersionInfo{}, fmt.Errorf("%q is not GOOS/GOARCH", f[1])
	}
	if len(f) == 3 {
		arm, ok := strings.CutPrefix(f[2], "GOARM=")
		if !ok || arm == "" {
			return VersionInfo{}, fmt.Errorf("%q is not GOARM=N", f[2])
		}
		v.Target.GOARM = arm
	}
	if err := checkTarget(v.Target); err != nil {
		return VersionInfo{}, err
	}
	return v, nil
}

// token is a field of printable ASCII of at most 64 bytes.
func token(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
