package filerecv

import (
	"strings"
	"unicode/utf8"
)

// MaxNameLen is the longest file name in bytes, NAME_MAX on Linux file
// systems.
const MaxNameLen = 255

// ReservedPrefix starts the names of the receiver's own temporary and
// partial files. An upload may not use it, so a sender can neither
// overwrite nor publish a half-received file under another's name.
const ReservedPrefix = ".edge-"

// ValidName reports whether name may be stored as it is, as one entry of
// the receive directory. Names are validated, never cleaned: a name the
// receiver would have to change is refused, so a file is only ever stored
// under the name its sender chose.
//
// Refused: the empty name, "." and "..", names longer than MaxNameLen
// bytes, names that are not valid UTF-8 or hold U+FFFD, names holding '/'
// or '\\', control characters (C0, DEL and C1, which covers the ESC and CSI
// that start terminal escape sequences) and names starting with
// ReservedPrefix. Any other name is fine, non-ASCII, spaces and leading
// dots included.
//
// U+FFFD is refused because a decoder writes it for bytes or escapes it
// could not read (encoding/json does, for an unpaired surrogate such as
// \ud800): such a name is not the one the sender meant, and a sender that
// meant U+FFFD literally is vanishingly rare.
//
// The error is an *Error with CodeBadName.
func ValidName(name string) error {
	switch {
	case name == "":
		return errorf(CodeBadName, "file name is empty")
	case len(name) > MaxNameLen:
		return errorf(CodeBadName, "file name is %d bytes, over the limit of %d", len(name), MaxNameLen)
	case name == "." || name == "..":
		return errorf(CodeBadName, "file name %q names a directory", name)
	case !utf8.ValidString(name):
		return errorf(CodeBadName, "file name %q is not valid UTF-8", name)
	}
	for i, r := range name {
		switch {
		case r == '/' || r == '\\':
			return errorf(CodeBadName, "file name %q holds the path separator %q at byte %d: send a name, not a path", name, r, i)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return errorf(CodeBadName, "file name %q holds the control character U+%04X at byte %d", name, r, i)
		case r == utf8.RuneError:
			return errorf(CodeBadName, "file name %q is not valid UTF-8: it holds U+FFFD, what a decoder leaves in place of bytes or escapes it could not read", name)
		}
	}
	if strings.HasPrefix(name, ReservedPrefix) {
		return errorf(CodeBadName, "file name %q starts with %q, which the receiver keeps for its own files", name, ReservedPrefix)
	}
	return nil
}
