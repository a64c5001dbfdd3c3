package texttime

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"edge-agent/transport/testenv"
)

// pythonFormats are compared byte for byte with Python's time.strftime:
// every conversion, flag, width and modifier glibc knows, the ones it does
// not, and text around them.
var pythonFormats = []string{
	DefaultFormat,
	// C99 and POSIX conversions, one by one.
	"%a", "%A", "%b", "%B", "%c", "%C", "%d", "%D", "%e", "%F", "%g", "%G",
	"%h", "%H", "%I", "%j", "%m", "%M", "%n", "%p", "%r", "%R", "%S", "%t",
	"%T", "%u", "%U", "%V", "%w", "%W", "%x", "%X", "%y", "%Y", "%z", "%Z", "%%",
	// glibc extensions, and what glibc does not have.
	"%k", "%l", "%P", "%s", "%+", "%:z", "%::z", "%f", "%N", "%q", "%Q", "%v", "%i",
	// Flags.
	"%-d", "%_d", "%0e", "%-e", "%_H", "%-I", "%-j", "%_j", "%-m", "%_M", "%0k", "%-k", "%-l",
	"%^a", "%^A", "%^b", "%^B", "%^h", "%^p", "%^P", "%^Z", "%^c", "%^r", "%^x", "%^q",
	"%#a", "%#A", "%#b", "%#B", "%#h", "%#p", "%#P", "%#Z", "%#c", "%#z", "%#s",
	"%^#Z", "%#^a", "%-#a", "%#Eb", "%#Ea", "%-_5d", "%0_5d", "%_-0^#5d", "%5-d",
	"%-z", "%_z", "%05z", "%-s", "%_s", "%0s",
	// Widths.
	"%5Y", "%_5Y", "%-5Y", "%05Y", "%1Y", "%3Y", "%10A", "%-10A", "%_10A", "%010A",
	"%_5d", "%5d", "%5e", "%3e", "%5j", "%5C", "%5y", "%5G", "%5V", "%3u", "%_3w",
	"%10z", "%_10z", "%-10z", "%3z", "%10s", "%15s", "%_15s", "%015s", "%10Z", "%010Z",
	"%#-10Z", "%5p", "%05p", "%#10p", "%30c", "%030c", "%^30c", "%12F", "%012F",
	"%10R", "%10T", "%5%", "%05%", "%5n", "%5t", "%000010d", "%1000Y",
	// E and O modifiers.
	"%Ec", "%EC", "%Ex", "%EX", "%Ey", "%EY", "%Od", "%Oe", "%OH", "%OI", "%Om",
	"%OM", "%OS", "%Ou", "%OU", "%OV", "%Ow", "%OW", "%Oy", "%Ob", "%OB", "%Oj",
	"%Ez", "%OZ", "%Os", "%Ep", "%EP", "%E%", "%O%", "%En", "%-3Ey", "%3EC",
	"%10Ex", "%5EY", "%_5Oe",
	// Modifiers glibc refuses, and malformed sequences.
	"%OY", "%Ea", "%Oa", "%Eb", "%EB", "%Ed", "%EOd", "%OEd", "%E5Y", "%EG", "%OX",
	"%5Q", "%-5Q", "%^010Q", "%E", "%O", "%5", "%-", "%^", "%5E", "%", "a%", "%%%",
	"%%%%", "a%%%Yb", "%Y%",
	// Text around conversions.
	"时间 %H:%M", "%Y年%m月%d日 %A", "%é", "%^é", "%9é", "%^9ÿ", "%^ß", "%^ı", "%#é",
	"%^时", "Zeit: %T Uhr", "\t%T\n", "no directives at all",
	strings.Repeat("long literal text, ", 20) + "%F",
	"%G-W%V-%u", "%g/%V %a", "%Y-%j", "%U %W %V", "%s %z %Z", "%D %r",
	"%c%c%c%c%c%c", "[%_3d|%-3d|%03d]", "%I:%M:%S %p %Z",
}

// pythonInstants are fixed so that the comparison does not depend on the
// day it runs.
var pythonInstants = []int64{
	1700000000,   // 2023-11-14 22:13:20 UTC
	0,            // the epoch
	-1,           // one second before it
	1699920000,   // 2023-11-14 00:00 UTC: midnight there
	1699963200,   // and noon
	1699891200,   // midnight in Shanghai
	1699900200,   // midnight in Kolkata
	1699916400,   // midnight in Berlin
	1699938000,   // midnight in New York
	1609372800,   // 2020-12-31: ISO week 53
	1609459200,   // 2021-01-01, a Friday: still 2020-W53
	1609632000,   // 2021-01-03, a Sunday
	1609718400,   // 2021-01-04: 2021-W01
	1735516800,   // 2024-12-30, a Monday: 2025-W01
	1546214400,   // 2018-12-31, a Monday: 2019-W01
	1451606400,   // 2016-01-01, a Friday: 2015-W53
	1798761600,   // 2027-01-01, a Friday: 2026-W53
	1230508800,   // 2008-12-29: 2009-W01
	1703980800,   // 2023-12-31, a Sunday: %U and %W disagree
	1679794200,   // 2023-03-26 01:30 UTC: Berlin springs forward
	1698539400,   // 2023-10-29 00:30 UTC: Berlin's repeated hour, summer time
	1698543000,   // 2023-10-29 01:30 UTC: the same hour in winter time
	1678604400,   // 2023-03-12 07:00 UTC: New York springs forward
	951782400,    // 2000-02-29
	-2208988800,  // 1900-01-01
	-5364662400,  // 1800-01-01: local mean time, offsets with seconds
	-62135596800, // 0001-01-01
	-62198755200, // year 0, a leap year
	-62240659200, // 2 BCE, year -1 as glibc counts
	-65000000000, // year -91
	4102444800,   // 2100-01-01
	253402300799, // 9999-12-31 23:59:59
	253402300800, // 10000-01-01
}

// pythonZones: one with summer time, zones east of UTC with and without a
// half hour, one west of it with a half hour, and UTC.
var pythonZones = []string{"Europe/Berlin", "America/New_York", "Asia/Shanghai", "Asia/Kolkata", "America/St_Johns", "UTC"}

// generatedFormats returns n formats drawn from a fixed seed: random runs
// of flags, widths, modifiers and conversion characters between bits of
// text, for the combinations no list thinks of.
func generatedFormats(n int) []string {
	r := rand.New(rand.NewPCG(2, 2))
	const convs = "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%EOqQfJK+:!0123456789 "
	pieces := []string{"", "-", " ", "时", "é", "x", "ÿ", "ǅ"}
	out := make([]string, 0, n)
	for range n {
		var b strings.Builder
		for range 1 + r.IntN(4) {
			b.WriteString(pieces[r.IntN(len(pieces))])
			b.WriteByte('%')
			for range r.IntN(3) {
				b.WriteByte("_-0^#"[r.IntN(5)])
			}
			if r.IntN(3) == 0 {
				b.WriteString(strings.TrimLeft(string(rune('0'+r.IntN(10)))+string(rune('0'+r.IntN(10))), "0"))
			}
			if r.IntN(4) == 0 {
				b.WriteByte("EO"[r.IntN(2)])
			}
			if r.IntN(20) == 0 {
				b.WriteString(pieces[3+r.IntN(len(pieces)-3)])
				continue
			}
			if r.IntN(30) == 0 {
				break // a format that ends inside a conversion
			}
			b.WriteByte(convs[r.IntN(len(convs))])
		}
		out = append(out, b.String())
	}
	return out
}

// TestMatchesPython compares AppendFormat with Python's time.strftime for
// every format, instant and zone above: one python3 per zone.
func TestMatchesPython(t *testing.T) {
	py := testenv.Python(t)
	if len(pythonFormats) < 60 {
		t.Fatalf("only %d formats", len(pythonFormats))
	}
	formats := append(append([]string(nil), pythonFormats...), generatedFormats(400)...)
	for _, tz := range pythonZones {
		t.Run(strings.ReplaceAll(tz, "/", "_"), func(t *testing.T) {
			t.Parallel()
			loc := loadZone(t, tz)
			want := pythonStrftime(t, py, tz, formats, pythonInstants)
			failures := 0
			for i, secs := range pythonInstants {
				tt := time.Unix(secs, 0).In(loc)
				for j, f := range formats {
					if want[i][j] == nil {
						t.Errorf("python3 refused %q", f)
						continue
					}
					got := string(AppendFormat(nil, f, tt))
					if got != *want[i][j] {
						t.Errorf("%s (%d) %q: got %q, python3 %q", tt.Format(time.RFC3339), secs, f, got, *want[i][j])
						if failures++; failures > 30 {
							t.FailNow()
						}
					}
				}
			}
		})
	}
}
