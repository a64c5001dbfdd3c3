package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"

	"edge-agent/agent/update"
)

// versionVar is the variable the Makefile sets to the version at link time.
const versionVar = "edge-agent/agent.version"

// distBinary is one binary of a release directory, as make cross writes it.
type distBinary struct {
	Name    string // file name in the directory
	Path    string
	Target  update.Target
	Version string
	Size    int64
	SHA256  string // lower-case hex
}

// release is what a directory offers: binaries of one version, one per
// target, and what was left out.
type release struct {
	Version  string
	Binaries []distBinary // by name
	// Ignored are the other entries, each "name (why)".
	Ignored []string
}

// readRelease reads dir: every regular file that Go's build information
// says is a program for linux is a binary; its target and version come
// from that information (the version from -X edge-agent/agent.version in
// -ldflags). version, when not empty, is the version to take for
// binaries whose build information holds no -ldflags (go build -trimpath
// leaves them out) and must agree with the others. The errors are usage
// errors: they say what to fix.
func readRelease(dir, version string) (*release, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	if version == "" {
		if version, err = readVersionFile(dir); err != nil {
			return nil, err
		}
	}
	rel := &release{}
	byTarget := map[update.Target]int{}
	var problems []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".sig") || name == versionFile {
			continue
		}
		if !e.Type().IsRegular() {
			rel.Ignored = append(rel.Ignored, name+" (not a regular file)")
			continue
		}
		path := filepath.Join(dir, name)
		info, err := buildinfo.ReadFile(path)
		if err != nil {
			rel.Ignored = append(rel.Ignored, name+" (not a Go program)")
			continue
		}
		t := update.BuildTarget(info)
		var ldflags string
		var haveLdflags bool
		for _, s := range info.Settings {
			if s.Key == "-ldflags" {
				ldflags, haveLdflags = s.Value, true
			}
		}
		if t.GOARCH != "arm" {
			t.GOARM = ""
		}
		if t.GOOS != "linux" {
			rel.Ignored = append(rel.Ignored, fmt.Sprintf("%s (a Go program for %s)", name, t))
			continue
		}
		b := distBinary{Name: name, Path: path, Target: t}
		v, ok := ldflagsVersion(ldflags)
		switch {
		case ok:
			b.Version = v
		case version != "":
			b.Version = version
		case haveLdflags:
			problems = append(problems, fmt.Sprintf("%s: its -ldflags do not set %s: build it with make cross (or go build -ldflags \"-X %[2]s=VERSION\")", name, versionVar))
			continue
		default:
			problems = append(problems, fmt.Sprintf("%s: its build information holds no -ldflags (go build -trimpath, as make uses, leaves them out): build it with make cross, which writes the version to %s beside it, or name the version with --version V (git describe --tags --always --dirty, as make does)", name, versionFile))
			continue
		}
		if b.Size, b.SHA256, err = hashFile(path); err != nil {
			return nil, err
		}
		if err := (update.Candidate{Version: b.Version, GOOS: t.GOOS, GOARCH: t.GOARCH, GOARM: t.GOARM, Size: b.Size, SHA256: b.SHA256, Signature: "-"}).Validate(); err != nil {
			problems = append(problems, fmt.Sprintf("%s: a device would refuse it: %v", name, err))
			continue
		}
		if i, dup := byTarget[t]; dup {
			if rel.Binaries[i].SHA256 == b.SHA256 {
				rel.Ignored = append(rel.Ignored, fmt.Sprintf("%s (the same as %s)", name, rel.Binaries[i].Name))
				continue
			}
			problems = append(problems, fmt.Sprintf("%s and %s are both for %s: keep one", rel.Binaries[i].Name, name, t))
			continue
		}
		byTarget[t] = len(rel.Binaries)
		rel.Binaries = append(rel.Binaries, b)
	}
	versions := map[string][]string{}
	for _, b := range rel.Binaries {
		versions[b.Version] = append(versions[b.Version], b.Name)
	}
	if version != "" && len(versions) == 1 && rel.Binaries[0].Version != version {
		problems = append(problems, fmt.Sprintf("--version %s, but the binaries say %s", version, rel.Binaries[0].Version))
	}
	if len(versions) > 1 {
		var vs []string
		for v, names := range versions {
			vs = append(vs, fmt.Sprintf("%s (%s)", v, strings.Join(names, ", ")))
		}
		sort.Strings(vs)
		problems = append(problems, "the binaries are of different versions: "+strings.Join(vs, "; ")+": keep those of one")
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	if len(rel.Binaries) == 0 {
		return nil, fmt.Errorf("%s holds no Go program for linux: make cross writes them to dist/", dir)
	}
	rel.Version = rel.Binaries[0].Version
	return rel, nil
}

// versionFile, beside the binaries, names their version: make cross
// writes it, since go build -trimpath leaves -ldflags (and so the
// version linked in) out of the build information.
const versionFile = "VERSION"

// readVersionFile returns the version dir/VERSION names, "" without the
// file.
func readVersionFile(dir string) (string, error) {
	f, err := os.Open(filepath.Join(dir, versionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 257))
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if len(b) > 256 || v == "" || strings.ContainsAny(v, " \t\r\n") {
		return "", fmt.Errorf("%s: not one version on one line", filepath.Join(dir, versionFile))
	}
	return v, nil
}

// ldflagsVersion returns the value -X edge-agent/agent.version=V gives in
// a -ldflags setting (the last one, as the linker takes it).
func ldflagsVersion(ldflags string) (string, bool) {
	args := splitQuoted(ldflags)
	var v string
	var found bool
	for i := 0; i < len(args); i++ {
		a := args[i]
		var val string
		switch {
		case a == "-X" || a == "--X":
			if i+1 == len(args) {
				return v, found
			}
			i++
			val = args[i]
		case strings.HasPrefix(a, "-X="):
			val = a[len("-X="):]
		case strings.HasPrefix(a, "--X="):
			val = a[len("--X="):]
		default:
			continue
		}
		if s, ok := strings.CutPrefix(val, versionVar+"="); ok {
			v, found = s, true
		}
	}
	return v, found
}

// splitQuoted splits s into fields at spaces, as go build splits
// -ldflags: a field may be quoted with ' or " (no escapes inside).
func splitQuoted(s string) []string {
	var out []string
	var cur strings.Builder
	inField := false
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, inField = c, true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inField {
				out = append(out, cur.String())
				cur.Reset()
				inField = false
			}
		default:
			cur.WriteByte(c)
			inField = true
		}
	}
	if inField {
		out = append(out, cur.String())
	}
	return out
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// signBinary writes path.sig: the armored SSHSIG signature over the file
// in the update namespace, SHA-512, what ssh-keygen -Y sign -n
// edge-agent-update writes. The file appears whole or not at all.
func signBinary(path string, signer ssh.Signer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	sig, err := sshsig.Sign(f, signer, sshsig.HashSHA512, update.Namespace)
	f.Close()
	if err != nil {
		return fmt.Errorf("signing %s: %w", path, err)
	}
	return writeAtomic(path+".sig", sshsig.Armor(sig))
}

// writeAtomic writes a temporary file beside path, syncs it and renames
// it over path, then syncs the directory.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fmt.Errorf("writing %s: sync %s: %w", path, dir, err)
		}
	}
	return nil
}

// checkSigFile says what is wrong with an existing signature file for a
// device to accept it, or "" when it is an armored SSHSIG signature in
// the update namespace. Whether it verifies is the device's to check.
func checkSigFile(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, update.MaxSignatureSize+1))
	switch {
	case err != nil:
		return err.Error()
	case len(data) > update.MaxSignatureSize:
		return fmt.Sprintf("over %d bytes: devices refuse it", update.MaxSignatureSize)
	}
	sig, err := sshsig.Unarmor(data)
	switch {
	case err != nil:
		return "not an armored SSH signature: " + err.Error()
	case sig.Namespace != update.Namespace:
		return fmt.Sprintf("signed for the namespace %q, not %q: devices refuse it", sig.Namespace, update.Namespace)
	}
	return ""
}
