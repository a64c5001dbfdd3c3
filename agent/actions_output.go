package agent

import "unicode/utf8"

// fitJSON cuts s, at a character boundary, so that encoding/json writes it
// in at most max bytes, and returns how many bytes of s it cut. A script's
// output is kept up to max bytes as read, but written as JSON a control
// byte takes six (\u001b), as do <, > and & (json.Marshal escapes them)
// and each byte that is not UTF-8 (\ufffd): without this, output of max
// bytes could make a reply six times as large, over what the broker takes.
func fitJSON(s string, max int) (string, int64) {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		w := size
		switch {
		case r == utf8.RuneError && size == 1:
			w = len(`\ufffd`)
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			w = 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
			w = len(`\u0000`)
		}
		if n+w > max {
			return s[:i], int64(len(s) - i)
		}
		n += w
		i += size
	}
	return s, 0
}
