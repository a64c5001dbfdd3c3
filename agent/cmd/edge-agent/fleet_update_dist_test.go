package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"edge-agent/agent/update"
	"edge-agent/internal/sshtest"
	"edge-agent/transport/testenv"
)

// buildTiny builds a small Go program into dir/name for the target in
// env (GOOS=, GOARCH=, GOARM=) with ldflags; variant changes its code, so
// that two builds of one target differ.
func buildTiny(t *testing.T, dir, name, env, ldflags string, trimpath bool, variant string) string {
	t.Helper()
	src := t.TempDir()
	main := "package main\n\nfunc main() { println(\"tiny " + variant + "\") }\n"
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module tiny\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	args := []string{"build", "-o", out}
	if trimpath {
		args = append(args, "-trimpath")
	}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build test binaries: %v", err)
	}
	cmd := exec.Command(goCmd, append(args, ".")...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	cmd.Env = append(cmd.Env, strings.Fields(env)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

const (
	amd64  = "GOOS=linux GOARCH=amd64"
	armv6  = "GOOS=linux GOARCH=arm GOARM=6"
	darwin = "GOOS=darwin GOARCH=arm64"
)

func xVersion(v string) string { return "-X " + versionVar + "=" + v }

// A directory as make cross leaves it, with other files beside the
// binaries: the Go programs for linux are taken, with their target and
// version from the build information, size and SHA-256; the rest is
// named as ignored.
func TestUpdateReadRelease(t *testing.T) {
	dir := t.TempDir()
	a := buildTiny(t, dir, "edge-agent-linux-amd64", amd64, "-s -w "+xVersion("v1.2.3")+" -X edge-agent/agent.commit=abc", false, "")
	buildTiny(t, dir, "edge-agent-linux-armv6", armv6, xVersion("v1.2.3"), false, "")
	buildTiny(t, dir, "edge-agent-darwin", darwin, xVersion("v1.2.3"), false, "")
	os.WriteFile(filepath.Join(dir, "config.md"), []byte("# not a program\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "edge-agent-linux-amd64.sig"), []byte("a signature\n"), 0o644)
	os.Mkdir(filepath.Join(dir, "system-test"), 0o755)

	rel, err := readRelease(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(a)
	sum := sha256.Sum256(data)
	want := []distBinary{
		{Name: "edge-agent-linux-amd64", Path: a, Target: update.Target{GOOS: "linux", GOARCH: "amd64"}, Version: "v1.2.3", Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])},
		{Name: "edge-agent-linux-armv6", Target: update.Target{GOOS: "linux", GOARCH: "arm", GOARM: "6"}, Version: "v1.2.3"},
	}
	if rel.Version != "v1.2.3" || len(rel.Binaries) != 2 || rel.Binaries[0] != want[0] {
		t.Fatalf("release %+v, want %+v", rel, want)
	}
	if b := rel.Binaries[1]; b.Name != want[1].Name || b.Target != want[1].Target || b.Version != want[1].Version || b.Size == 0 {
		t.Errorf("armv6 binary %+v", b)
	}
	if want := []string{"config.md (not a Go program)", "edge-agent-darwin (a Go program for darwin/arm64)", "system-test (not a regular file)"}; !slices.Equal(rel.Ignored, want) {
		t.Errorf("ignored %q, want %q", rel.Ignored, want)
	}
}

// What readRelease refuses, and says how to put right.
func TestUpdateReadReleaseRefuses(t *testing.T) {
	release := func(t *testing.T, builds ...[4]string) string {
		dir := t.TempDir()
		for _, b := range builds {
			buildTiny(t, dir, b[0], b[1], b[2], b[3] == "trimpath", b[3])
		}
		return dir
	}
	for _, tc := range []struct {
		name    string
		builds  [][4]string
		version string
		want    string
	}{
		{"mixed versions", [][4]string{{"a", amd64, xVersion("v1"), ""}, {"b", armv6, xVersion("v2"), ""}},
			"", "the binaries are of different versions: v1 (a); v2 (b): keep those of one"},
		{"no version set", [][4]string{{"a", amd64, "-s -w", ""}},
			"", "a: its -ldflags do not set edge-agent/agent.version: build it with make cross"},
		{"no ldflags recorded", [][4]string{{"a", amd64, xVersion("v1"), "trimpath"}},
			"", "a: its build information holds no -ldflags (go build -trimpath, as make uses, leaves them out): build it with make cross, which writes the version to VERSION beside it, or name the version with --version V"},
		{"--version against the build information", [][4]string{{"a", amd64, xVersion("v1"), ""}},
			"v2", "--version v2, but the binaries say v1"},
		{"a version no device takes", [][4]string{{"a", amd64, xVersion("v1/../x"), ""}},
			"", "a: a device would refuse it: version:"},
		{"two builds for one target", [][4]string{{"a", amd64, xVersion("v1"), "one"}, {"b", amd64, xVersion("v1"), "two"}},
			"", "a and b are both for linux/amd64: keep one"},
		{"nothing for linux", [][4]string{{"a", darwin, xVersion("v1"), ""}},
			"", "holds no Go program for linux: make cross writes them to dist/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel, err := readRelease(release(t, tc.builds...), tc.version)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("readRelease: %+v, %v; want an error saying %q", rel, err, tc.want)
			}
		})
	}

	// The version named where the build information does not say, and
	// a copy of a binary under another name (make build beside make
	// cross) is taken once.
	dir := t.TempDir()
	a := buildTiny(t, dir, "a", amd64, xVersion("v1"), true, "")
	data, _ := os.ReadFile(a)
	os.WriteFile(filepath.Join(dir, "b"), data, 0o755)
	rel, err := readRelease(dir, "v1")
	if err != nil || rel.Version != "v1" || len(rel.Binaries) != 1 || !slices.Equal(rel.Ignored, []string{"b (the same as a)"}) {
		t.Errorf("readRelease with --version: %+v, %v", rel, err)
	}
	// The version make cross writes beside the binaries.
	os.WriteFile(filepath.Join(dir, "VERSION"), []byte("v1\n"), 0o644)
	if rel, err := readRelease(dir, ""); err != nil || rel.Version != "v1" || len(rel.Binaries) != 1 {
		t.Errorf("readRelease with a VERSION file: %+v, %v", rel, err)
	}
	for _, bad := range []string{"", "v1 v2\n", "v1\nv2\n"} {
		os.WriteFile(filepath.Join(dir, "VERSION"), []byte(bad), 0o644)
		if _, err := readRelease(dir, ""); err == nil || !strings.Contains(err.Error(), "not one version on one line") {
			t.Errorf("VERSION %q: %v", bad, err)
		}
	}
}

func TestUpdateLdflagsVersion(t *testing.T) {
	for _, tc := range []struct {
		ldflags, want string
		ok            bool
	}{
		{"-s -w -X edge-agent/agent.version=v1.2.3 -X edge-agent/agent.commit=abc", "v1.2.3", true},
		{"-X=edge-agent/agent.version=v1", "v1", true},
		{"--X edge-agent/agent.version=v1", "v1", true},
		{"-X 'edge-agent/agent.version=v1 2'", "v1 2", true},
		{`-X "edge-agent/agent.version=a" -X edge-agent/agent.version=b`, "b", true},
		{"-X edge-agent/agent.version=", "", true},
		{"-X edge-agent/agent.commit=abc", "", false},
		{"-s -w", "", false},
		{"-X", "", false},
		{"", "", false},
		{"-Xedge-agent/agent.version=v1", "", false},
		{"-X other/agent.version=v1", "", false},
	} {
		got, ok := ldflagsVersion(tc.ldflags)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ldflagsVersion(%q) = %q %v, want %q %v", tc.ldflags, got, ok, tc.want, tc.ok)
		}
	}
}

// Whatever -ldflags a file's build information holds, reading the
// version neither fails nor makes up one that is not in it.
func FuzzLdflagsVersion(f *testing.F) {
	f.Add("-s -w -X edge-agent/agent.version=v1.2.3 -X edge-agent/agent.commit=abc")
	f.Add(`-X 'edge-agent/agent.version=a b' "-X" edge-agent/agent.version=`)
	f.Fuzz(func(t *testing.T, ldflags string) {
		v, ok := ldflagsVersion(ldflags)
		if ok && !strings.Contains(ldflags, v) && !strings.ContainsAny(ldflags, `'"`) {
			t.Fatalf("ldflagsVersion(%q) = %q, not in the flags", ldflags, v)
		}
		if !ok && v != "" {
			t.Fatalf("ldflagsVersion(%q) = %q without a version", ldflags, v)
		}
	})
}

// A binary without a signature is signed as ssh-keygen -Y sign -n
// edge-agent-update would: ssh-keygen verifies it. One that has a
// signature keeps it; one that no device would take is warned of.
func TestUpdateSignRelease(t *testing.T) {
	key := sshtest.NewKey(t, "ed25519", "op@test")
	rsa := sshtest.NewKey(t, "rsa", "rsa@test")
	dir := t.TempDir()
	a := buildTiny(t, dir, "a", amd64, xVersion("v1"), false, "")
	b := buildTiny(t, dir, "b", armv6, xVersion("v1"), false, "")
	kept := sshtest.Sign(t, rsa, update.Namespace, []byte("other bytes"))
	os.WriteFile(b+".sig", []byte(kept), 0o644)
	rel, err := readRelease(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := runSigner(key.Path)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if err := signRelease(rel, signer, &stderr); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(a)
	sig, _ := os.ReadFile(a + ".sig")
	if out, err := sshtest.Verify(t, key, "op", update.Namespace, data, string(sig)); err != nil {
		t.Errorf("ssh-keygen -Y verify: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(b + ".sig"); string(got) != kept {
		t.Error("the existing signature was replaced")
	}
	if stderr.String() != "edge-agent fleet update: signed a.sig\n" {
		t.Errorf("stderr: %q", stderr.String())
	}
	if names := testenv.DirNames(t, dir); !slices.Equal(names, []string{"a", "a.sig", "b", "b.sig"}) {
		t.Errorf("directory holds %v", names)
	}

	// Signatures a device refuses whatever it trusts: another namespace,
	// not a signature at all.
	os.WriteFile(a+".sig", []byte(sshtest.Sign(t, key, "edge-agent", data)), 0o644)
	os.WriteFile(b+".sig", []byte("-----BEGIN SSH SIGNATURE-----\nnonsense\n"), 0o644)
	stderr.Reset()
	if err := signRelease(rel, signer, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"warning: " + a + `.sig: signed for the namespace "edge-agent", not "edge-agent-update": devices refuse it (delete it to sign again)`,
		"warning: " + b + ".sig: not an armored SSH signature",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
