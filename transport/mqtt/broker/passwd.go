package broker

import (
	"bufio"
	"bytes"
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of a password file. Mosquitto writes 101 PBKDF2 iterations
// (2.0) or 1,000 (2.1), and an operator may ask for more; a count beyond
// maxIterations would make every login cost seconds of CPU and is taken
// for a damaged file.
const (
	maxIterations   = 10_000_000
	maxPasswordFile = 1 << 20
	maxUsers        = 10_000
	hashLen         = sha512.Size
)

// ErrPasswordFile wraps every problem found in a password file.
var ErrPasswordFile = errors.New("broker: password file")

// Users are the accounts of a mosquitto_passwd file: lines
// `name:$7$iterations$salt$hash` (PBKDF2-HMAC-SHA512, mosquitto 2) or
// `name:$6$salt$hash` (salted SHA-512, mosquitto 1.x), salt and hash in
// standard base64. Blank lines and lines starting with # are skipped.
type Users struct {
	m map[string]pwHash
	// dummy is checked for a name that is not in the file, so a wrong
	// name costs as much time as a wrong password.
	dummy pwHash
}

type pwHash struct {
	pbkdf2 bool // $7$; else $6$
	iter   int
	salt   []byte
	sum    []byte
}

// ReadUsers reads and parses a password file.
func ReadUsers(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseUsers(f)
}

// ParseUsers parses a password file. Unlike mosquitto, which skips a line
// it cannot read, it refuses the whole file and names the line: a user
// silently left out would find out only when a login fails.
func ParseUsers(r io.Reader) (*Users, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPasswordFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasswordFile, err)
	}
	if len(data) > maxPasswordFile {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrPasswordFile, maxPasswordFile)
	}
	u := &Users{m: make(map[string]pwHash)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxPasswordFile)
	for n := 1; sc.Scan(); n++ {
		name, h, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %s", ErrPasswordFile, n, err)
		}
		if name == "" {
			continue
		}
		if _, dup := u.m[name]; dup {
			return nil, fmt.Errorf("%w: line %d: user %q is listed twice", ErrPasswordFile, n, name)
		}
		if len(u.m) == maxUsers {
			return nil, fmt.Errorf("%w: more than %d users", ErrPasswordFile, maxUsers)
		}
		u.m[name] = h
		if h.pbkdf2 && (!u.dummy.pbkdf2 || h.iter > u.dummy.iter) || u.dummy.sum == nil {
			u.dummy = pwHash{pbkdf2: h.pbkdf2, iter: h.iter, salt: h.salt, sum: make([]byte, hashLen)}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPasswordFile, err)
	}
	if len(u.m) == 0 {
		return nil, fmt.Errorf("%w: no users in it (create them with mosquitto_passwd)", ErrPasswordFile)
	}
	return u, nil
}

// parseLine returns the user of one line, or an empty name for a line
// without one.
func parseLine(line string) (string, pwHash, error) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" || line[0] == '#' {
		return "", pwHash{}, nil
	}
	name, field, ok := strings.Cut(line, ":")
	if !ok {
		return "", pwHash{}, errors.New("no colon: want name:hash as mosquitto_passwd writes it")
	}
	// Mosquitto trims blanks around both fields.
	name, field = strings.Trim(name, " \t"), strings.Trim(field, " \t")
	switch {
	case name == "":
		return "", pwHash{}, errors.New("empty user name")
	case len(name) > 65535 || !utf8.ValidString(name) || strings.ContainsFunc(name, isControl):
		return "", pwHash{}, errors.New("the user name is not an MQTT user name (UTF-8, no control characters, at most 65535 bytes)")
	}
	h, err := parseHash(field)
	if err != nil {
		return "", pwHash{}, fmt.Errorf("user %q: %w", name, err)
	}
	return name, h, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func parseHash(s string) (pwHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return pwHash{}, errors.New("not a hashed password (plain text? hash the file with mosquitto_passwd -U)")
	}
	var h pwHash
	switch parts[1] {
	case "6":
		if len(parts) != 4 {
			return pwHash{}, errors.New("want $6$salt$hash")
		}
		parts = parts[2:]
	case "7":
		if len(parts) != 5 {
			return pwHash{}, errors.New("want $7$iterations$salt$hash")
		}
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 1 || n > maxIterations || parts[2] != strconv.Itoa(n) {
			return pwHash{}, fmt.Errorf("iterations %q: want a whole number from 1 to %d", parts[2], maxIterations)
		}
		h.pbkdf2, h.iter = true, n
		parts = parts[3:]
	case "8":
		return pwHash{}, errors.New("argon2id ($8$) hashes are not supported: use mosquitto_passwd -H sha512-pbkdf2")
	default:
		return pwHash{}, fmt.Errorf("unknown hash type $%s$: want $7$ (sha512-pbkdf2) or $6$ (sha512)", parts[1])
	}
	var err error
	if h.salt, err = base64.StdEncoding.Strict().DecodeString(parts[0]); err != nil || len(h.salt) == 0 || len(h.salt) > 64 {
		return pwHash{}, errors.New("the salt is not 1 to 64 bytes of base64")
	}
	if h.sum, err = base64.StdEncoding.Strict().DecodeString(parts[1]); err != nil || len(h.sum) != hashLen {
		return pwHash{}, fmt.Errorf("the hash is not %d bytes of base64", hashLen)
	}
	return h, nil
}

// Len returns the number of users.
func (u *Users) Len() int { return len(u.m) }

// Has reports whether name is a user of the file.
func (u *Users) Has(name string) bool {
	_, ok := u.m[name]
	return ok
}

// Check reports whether password is name's. It takes as long for a name
// that is not in the file as for a wrong password, and compares in
// constant time.
func (u *Users) Check(name string, password []byte) bool {
	h, ok := u.m[name]
	if !ok {
		h = u.dummy
	}
	return h.matches(password) && ok
}

func (h pwHash) matches(password []byte) bool {
	var sum []byte
	if h.pbkdf2 {
		var err error
		if sum, err = pbkdf2.Key(sha512.New, string(password), h.salt, h.iter, hashLen); err != nil {
			return false
		}
	} else {
		d := sha512.New()
		d.Write(password)
		d.Write(h.salt)
		sum = d.Sum(nil)
	}
	return subtle.ConstantTimeCompare(sum, h.sum) == 1
}
