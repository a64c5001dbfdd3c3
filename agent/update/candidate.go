package update

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"unicode/utf8"

	"edge-agent/agent/internal/strictjson"
)

// Bounds of an announced candidate.
const (
	// MaxBinarySize is the default bound of a candidate binary.
	MaxBinarySize int64 = 64 << 20
	// MaxCandidateSize bounds the JSON form of a Candidate.
	MaxCandidateSize = 16 << 10
	// MaxSignatureSize bounds the armored signature (an RSA 8192 one is
	// about 2.6 KiB).
	MaxSignatureSize = 8 << 10
	// MaxVersionSize bounds a version string.
	MaxVersionSize = 64
)

// Candidate announces a binary: what it must be before it may run.
type Candidate struct {
	// Version is what the binary's "version" line must name, exactly.
	Version string `json:"version"`
	GOOS    string `json:"goos"`
	GOARCH  string `json:"goarch"`
	// GOARM is "6" or "7" (optionally with ",softfloat" or
	// ",hardfloat") for GOARCH arm, "" otherwise.
	GOARM string `json:"goarm,omitempty"`
	// Size is the binary's exact length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the binary's SHA-256, 64 hex digits.
	SHA256 string `json:"sha256"`
	// Signature is an armored SSHSIG signature over the binary in the
	// namespace edge-agent-update, as ssh-keygen -Y sign -n
	// edge-agent-update writes it.
	Signature string `json:"signature"`
}

// Target is what a binary is built for.
type Target struct {
	GOOS, GOARCH string
	// GOARM is "" unless GOARCH is arm.
	GOARM string
}

func (t Target) String() string {
	s := t.GOOS + "/" + t.GOARCH
	if t.GOARM != "" {
		s += " GOARM=" + t.GOARM
	}
	return s
}

// HostTarget is the target of the running binary: a candidate must match
// it, GOARM included, since an armv7 build dies of an illegal
// instruction on an armv6 board.
func HostTarget() Target {
	t := Target{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok && t.GOARCH == "arm" {
		for _, s := range info.Settings {
			if s.Key == "GOARM" {
				t.GOARM = s.Value
			}
		}
	}
	return t
}

// Target returns the target the candidate claims.
func (c Candidate) Target() Target { return Target{GOOS: c.GOOS, GOARCH: c.GOARCH, GOARM: c.GOARM} }

// Validate checks the fields' syntax and bounds (not the signature, which
// Install parses). Errors are *Refusal with the reason of the field.
func (c Candidate) Validate() error {
	if err := checkVersion(c.Version); err != nil {
		return refuse(Version, "announced version: %v", err)
	}
	if err := checkTarget(c.Target()); err != nil {
		return refuse(Architecture, "announced target: %v", err)
	}
	if c.Size <= 0 || c.Size > MaxBinarySize {
		return refuse(Size, "announced size %d is not between 1 and %d bytes", c.Size, MaxBinarySize)
	}
	if _, err := decodeSHA256(c.SHA256); err != nil {
		return refuse(Checksum, "announced sha256: %v", err)
	}
	if c.Signature == "" || len(c.Signature) > MaxSignatureSize {
		return refuse(Signature, "the signature is empty or over %d bytes: send the .sig file ssh-keygen -Y sign -n %s wrote", MaxSignatureSize, Namespace)
	}
	return nil
}

func decodeSHA256(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, errors.New("not 64 hex digits (sha256sum prints them)")
	}
	return b, nil
}

// checkVersion accepts what git describe and semantic versions print:
// letters, digits and . _ + ~ -, not starting with -.
func checkVersion(v string) error {
	if v == "" || len(v) > MaxVersionSize {
		return fmt.Errorf("%q is empty or over %d bytes", v, MaxVersionSize)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '_' || c == '+' || c == '~' || c == '-' && i > 0
		if !ok {
			return fmt.Errorf("%q holds a character other than letters, digits and . _ + ~ - (or starts with -)", v)
		}
	}
	return nil
}

func checkTarget(t Target) error {
	for _, f := range []struct{ name, v string }{{"goos", t.GOOS}, {"goarch", t.GOARCH}} {
		if f.v == "" || len(f.v) > 16 {
			return fmt.Errorf("%s %q is empty or over 16 bytes", f.name, f.v)
		}
		for i := 0; i < len(f.v); i++ {
			if c := f.v[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return fmt.Errorf("%s %q is not lower-case letters and digits", f.name, f.v)
			}
		}
	}
	if t.GOARCH != "arm" {
		if t.GOARM != "" {
			return fmt.Errorf("goarm %q is set for goarch %s; it is only for arm", t.GOARM, t.GOARCH)
		}
		return nil
	}
	switch t.GOARM {
	case "5", "6", "7", "5,softfloat", "6,softfloat", "7,softfloat", "5,hardfloat", "6,hardfloat", "7,hardfloat":
		return nil
	}
	return fmt.Errorf("goarm %q for arm is not 5, 6 or 7 (optionally with ,softfloat or ,hardfloat)", t.GOARM)
}

// ParseCandidate reads the JSON form of a Candidate: at most
// MaxCandidateSize bytes of UTF-8, one object with the keys version,
// goos, goarch, goarm (optional), size, sha256 and signature, none
// repeated and no others, then Validate. Errors are *Refusal: Malformed
// for the JSON, the field's reason for a bad value.
func ParseCandidate(data []byte) (Candidate, error) {
	var c Candidate
	if len(data) > MaxCandidateSize {
		return c, refuse(Malformed, "candidate is %d bytes, over the limit of %d", len(data), MaxCandidateSize)
	}
	if !utf8.Valid(data) {
		return c, refuse(Malformed, "candidate is not UTF-8")
	}
	fields := map[string]*string{
		"version": &c.Version, "goos": &c.GOOS, "goarch": &c.GOARCH, "goarm": &c.GOARM,
		"sha256": &c.SHA256, "signature": &c.Signature,
	}
	seen := map[string]bool{}
	err := strictjson.Object(data, func(key string, dec *json.Decoder) error {
		seen[key] = true
		if key == "size" {
			return decodeValue(dec, &c.Size, key)
		}
		p, ok := fields[key]
		if !ok {
			return fmt.Errorf("unknown key %q", key)
		}
		return decodeValue(dec, p, key)
	})
	if err == nil {
		for _, k := range []string{"version", "goos", "goarch", "size", "sha256", "signature"} {
			if !seen[k] {
				err = fmt.Errorf("key %q is missing", k)
				break
			}
		}
	}
	if err != nil {
		return Candidate{}, refuse(Malformed, "candidate: %v", err)
	}
	if err := c.Validate(); err != nil {
		return Candidate{}, err
	}
	return c, nil
}

// decodeValue reads one value of the type of p: a JSON string for a
// string, an integer for an int64 (a fraction or exponent is an error).
func decodeValue(dec *json.Decoder, p any, key string) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("%s is null", key)
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return fmt.Errorf("%s: wrong type or out of range", key)
	}
	return nil
}
