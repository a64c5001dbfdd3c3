// Package testenv is what the tests of several packages share: the
// outside programs they run against (mosquitto, pseudo-terminal cables),
// services served on loopback for the length of a test, and the bad
// peers and networks they are tested against (a TCP proxy that cuts,
// stalls and refuses, a raw MQTT client, floods of connections that
// never read).
//
// A test that needs a program the machine lacks is skipped with a message
// naming the Debian package, except under CI=true, where a skip would hide
// a gap and the test fails instead.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under continuous integration.
func InCI() bool { return os.Getenv("CI") == "true" }

// Program returns the path of the first of names found, or skips (fails
// under CI) naming the Debian package that provides it.
func Program(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := "needs " + names[0] + " (Debian package " + pkg + "; make test installs it)"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Python returns Debian's python3, whose packages (python3-ntplib and the
// like) the tests rely on, or any python3 on PATH.
func Python(t testing.TB) string {
	t.Helper()
	return Program(t, "python3", "/usr/bin/python3", "python3")
}
