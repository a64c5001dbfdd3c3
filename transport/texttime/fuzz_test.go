package texttime

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzAppendFormat: no format panics or breaks its limit, text without a
// % comes back unchanged, and the numeric conversions read back as the
// instant they were made from.
func FuzzAppendFormat(f *testing.F) {
	for _, s := range []string{
		"", DefaultFormat, "%", "%%", "%%%", "%5Y", "%999999999Y", "%2147483648c", "%c%c%c%c",
		"%^é", "%9é", "%#Eb", "%-_0^#10Ez", "%EOd", "%5E", "时间 %H:%M", "plain text",
		"%\xff", "%5\xe6\x97", "\x00%\x00", "%G-W%V-%u", "%s %z %Z", "%^30c", "%015s",
	} {
		f.Add(s, int64(1700000000), int16(60), uint16(64))
	}
	f.Add("%Y", int64(-62198755200), int16(-330), uint16(3))
	f.Add("%F", int64(253402300800), int16(840), uint16(1024))
	f.Add("%Y", int64(-46000000000), int16(0), uint16(8)) // year 512
	f.Fuzz(func(t *testing.T, format string, secs int64, offsetMinutes int16, limit uint16) {
		secs %= 1 << 50 // ±35 million years: far past any clock, short of overflow
		off := int(offsetMinutes) % (24 * 60) * 60
		tt := time.Unix(secs, 0).In(time.FixedZone("Z", off))

		prefix := []byte("p:")
		out, err := AppendFormatLimit(prefix, format, tt, int(limit))
		switch {
		case !bytes.HasPrefix(out, prefix):
			t.Fatalf("%q: prefix lost: %q", format, out)
		case err != nil && len(out) != len(prefix):
			t.Fatalf("%q: %v but appended %q", format, err, out[len(prefix):])
		case err == nil && len(out)-len(prefix) > int(limit):
			t.Fatalf("%q: %d bytes over a limit of %d", format, len(out)-len(prefix), limit)
		}

		full, errFull := AppendFormatLimit(nil, format, tt, 1<<16)
		if errFull == nil {
			if fits := len(full) <= int(limit); fits != (err == nil) {
				t.Fatalf("%q: %d bytes in full, but limit %d gave %v", format, len(full), limit, err)
			}
			if err == nil && !bytes.Equal(out[len(prefix):], full) {
				t.Fatalf("%q: %q under a limit, %q without", format, out[len(prefix):], full)
			}
		}
		asBytes, errBytes := appendFormat(nil, []byte(format), tt, 1<<16)
		if !bytes.Equal(asBytes, full) || errBytes != errFull {
			t.Fatalf("%q: %q as bytes, %q as a string", format, asBytes, full)
		}
		if !strings.Contains(format, "%") && string(full) != format {
			t.Fatalf("text without %% changed: %q -> %q", format, full)
		}

		checkReadsBack(t, tt)
	})
}

// checkReadsBack formats tt with numeric conversions only and parses the
// result back.
func checkReadsBack(t *testing.T, tt time.Time) {
	if y := tt.Year(); y >= 0 && y <= 9999 {
		s := string(AppendFormat(nil, "%4Y-%m-%dT%H:%M:%S%z", tt))
		back, err := time.Parse("2006-01-02T15:04:05-0700", s)
		if err != nil || !back.Equal(tt) {
			t.Fatalf("%v formatted as %q, read back as %v, %v", tt, s, back, err)
		}
	}
	if s := string(AppendFormat(nil, "%s", tt)); s != strconv.FormatInt(tt.Unix(), 10) {
		t.Fatalf("%v: %%s gave %q", tt, s)
	}
	year, week := tt.ISOWeek()
	want := strconv.Itoa(year) + " " + strconv.Itoa(week) + " " + strconv.Itoa(int(tt.Weekday()+6)%7+1) + " " + strconv.Itoa(tt.YearDay())
	if s := string(AppendFormat(nil, "%G %-V %u %-j", tt)); s != want {
		t.Fatalf("%v: %q, want %q", tt, s, want)
	}
}
