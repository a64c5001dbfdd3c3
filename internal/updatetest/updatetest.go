// Package updatetest makes candidate binaries for the tests of
// agent/update: real Go programs built from agent/update/testdata/helper
// with go build, whose version line and behaviour are fixed when they are
// linked.
package updatetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Spec says what a helper binary does.
type Spec struct {
	// Name is the file name in the build directory; it must be unique.
	Name    string
	Version string
	// Line, when set, is printed by "version" instead of the line
	// edge-agent prints for the helper's own target.
	Line string
	// OnVersion and OnRun are "" (print and exit 0), "fail" (exit 1 at
	// once) or "hang" (sleep an hour).
	OnVersion, OnRun string
	// Marker, when set, is a file each start of the binary appends
	// "VERSION COMMAND" to.
	Marker string
	// GOARCH and GOARM cross-build; "" is the host's.
	GOARCH, GOARM string
}

// Build builds the helper as spec says into dir and returns its path.
// Builds share the go command's cache, so after the first only the link
// is repeated.
func Build(dir string, spec Spec) (string, error) {
	src, err := source()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, spec.Name)
	x := func(name, v string) string { return fmt.Sprintf(" -X 'main.%s=%s'", name, v) }
	// The agent's own version flag too: what an operator's tools read
	// from the build information of a release (edge-agent fleet update).
	ldflags := "-s -w" + x("version", spec.Version) + fmt.Sprintf(" -X 'edge-agent/agent.version=%s'", spec.Version)
	if spec.Line != "" {
		ldflags += x("line", spec.Line)
	}
	if spec.OnVersion != "" {
		ldflags += x("onVersion", spec.OnVersion)
	}
	if spec.OnRun != "" {
		ldflags += x("onRun", spec.OnRun)
	}
	if spec.Marker != "" {
		ldflags += x("marker", spec.Marker)
	}
	cmd := exec.Command(goCommand(), "build", "-trimpath", "-ldflags="+ldflags, "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	if spec.GOARCH != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+spec.GOARCH)
	}
	if spec.GOARM != "" {
		cmd.Env = append(cmd.Env, "GOARM="+spec.GOARM)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("updatetest: go build %s: %v\n%s", spec.Name, err, b)
	}
	return out, nil
}

// source is the helper's directory, found from this file's place in the
// module.
func source() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("updatetest: cannot find the module")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "agent", "update", "testdata", "helper")
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		return "", fmt.Errorf("updatetest: helper source: %w", err)
	}
	return dir, nil
}

func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go" // not found: the build says so
}

// Markers returns the lines the helpers wrote to marker, "" when none ran.
func Markers(t testing.TB, marker string) string {
	t.Helper()
	b, err := os.ReadFile(marker)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
