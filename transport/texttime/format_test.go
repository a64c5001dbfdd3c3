package texttime

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// berlinNov14 is 2023-11-14 23:13:20 CET, a Tuesday, without needing the
// zone database.
var berlinNov14 = time.Unix(1700000000, 0).In(time.FixedZone("CET", 3600))

// The expectations below are what Python 3.11 with glibc 2.36 printed for
// that instant; TestMatchesPython checks the same against a live python3.
func TestAppendFormatGlibcQuirks(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{"%5Y|%-d|%_d|%#b|%^a|%s|%z|%Z|%G|%V|%u|%Q|%", "02023|14|14|NOV|TUE|1700000000|+0100|CET|2023|46|2|%Q|%"},
		{DefaultFormat, "2023-11-14-23:13:20"},
		{"%c", "Tue Nov 14 23:13:20 2023"},
		{"%r|%D|%F|%R|%T|%x|%X", "11:13:20 PM|11/14/23|2023-11-14|23:13|23:13:20|11/14/23|23:13:20"},
		{"%k|%l|%P|%p|%C|%g|%j|%h", "23|11|pm|PM|20|23|318|Nov"},
		// Not conversions in glibc: copied with their flags and width.
		{"%+|%:z|%::z|%5Q|%-5Q|%5|%-|%5E|%E|%O|%E5Y", "%+|%:z|%::z|  %5Q| %-5Q|  %5|%-| %5E|%E|%O|%E5Y"},
		{"%^q|%^010Q|%5-d", "%^Q|0000%^010Q|  %5-d"},
		// # swaps case glibc's way: names up, %p and %Z down.
		{"%#a|%#A|%#B|%#p|%#P|%^P|%#Z|%^#Z|%#c|%#z", "TUE|TUESDAY|NOVEMBER|pm|pm|pm|cet|cet|Tue Nov 14 23:13:20 2023|+0100"},
		// It applies before glibc refuses %Eb, but after it refuses %Ea.
		{"%#Eb|%#Ea|%#OY", "%#EB|%#Ea|%#OY"},
		{"%^c|%^r|%^30c", "TUE NOV 14 23:13:20 2023|11:13:20 PM|      TUE NOV 14 23:13:20 2023"},
		// Padding: - and _ mean spaces for the width too; 0 pads text.
		{"%-10A|%_10A|%010A|%05d|%-5d|%_5d|%5e|%-e|%0e|%3e", "   Tuesday|   Tuesday|000Tuesday|00014|   14|   14|   14|14|14| 14"},
		{"%10z|%_10z|%-10z|%-z|%_z|%05z|%3z", "         +0000000100|         +       100|         +       100|+100|+ 100|0000+00100|  +0100"},
		{"%10s|%15s|%015s|%-5s", "1700000000|     1700000000|000001700000000|1700000000"},
		{"%-Y|%3Y|%_5Y|%-5Y|%5C|%5y|%5j|%5n|%5%|%010%", "2023|2023| 2023| 2023|00020|00023|00318|    \n|    %|000000000%"},
		{"%_-0^#5d|%-_5d|%0_5d|%000010d", "00014|   14|   14|0000000014"},
		// E and O: the C locale has no era and no alternative digits.
		{"%Ec|%Ex|%EX|%Ey|%EY|%EC|%Od|%Oe|%OH|%Oy|%Ob|%OB|%Op|%Ou|%Oj|%OZ|%Ez|%E%", "Tue Nov 14 23:13:20 2023|11/14/23|23:13:20|23|2023|20|14|14|23|23|Nov|November|PM|2|318|CET|+0100|%"},
		{"%OY|%Ea|%Oa|%Eb|%EB|%EOd|%OEd|%EG|%Ef|%Ej", "%OY|%Ea|%Oa|%Eb|%EB|%EOd|%OEd|%EG|%Ef|%Ej"},
		{"%-3Ey|%3EC|%10Ex|%5EY|%5Ez", " 23|020|  11/14/23|02023|    +00100"},
		// Text, and widths counted in characters.
		{"时间 %H:%M", "时间 23:13"},
		{"%é|%5é|%^é|%^ÿ|%^ß|%^ı|%#é", "%é|  %5é|%^É|%^Ÿ|%^ß|%^I|%#é"},
		{"%%%|%%%%|a%%%Yb|%Y%", "%%|%%|a%2023b|2023%"},
		{"", ""},
	} {
		if got := string(AppendFormat(nil, tc.format, berlinNov14)); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.format, got, tc.want)
		}
	}
}

func TestAppendFormatYears(t *testing.T) {
	for _, tc := range []struct {
		year         int
		format, want string
	}{
		{12345, "%Y|%C|%y|%F|%5Y", "12345|123|45|12345-01-03|12345"},
		{999, "%Y|%C|%F|%5Y|%_5Y|%10F|%010F", "999|9|999-01-03|00999|  999| 999-01-03|0999-01-03"},
		{0, "%Y|%C|%y|%5Y", "0|0|00|00000"},
		{-1, "%Y|%C|%y|%5Y|%_5Y|%5C|%010F", "-1|-1|99|-0001|   -1|-0001|00-1-01-03"},
		{-101, "%Y|%C|%y", "-101|-2|99"},
	} {
		tt := time.Date(tc.year, 1, 3, 13, 0, 0, 0, time.UTC)
		if got := string(AppendFormat(nil, tc.format, tt)); got != tc.want {
			t.Errorf("year %d %q: got %q, want %q", tc.year, tc.format, got, tc.want)
		}
	}
}

func TestAppendFormatZoneOffsets(t *testing.T) {
	tt := time.Unix(0, 0)
	for _, tc := range []struct {
		offset int
		want   string
	}{
		{0, "+0000"}, {19800, "+0530"}, {-12600, "-0330"}, {3208, "+0053"}, {-17762, "-0456"}, {50400, "+1400"},
	} {
		got := string(AppendFormat(nil, "%z", tt.In(time.FixedZone("X", tc.offset))))
		if got != tc.want {
			t.Errorf("offset %d: %q, want %q", tc.offset, got, tc.want)
		}
	}
}

func TestAppendFormatKeepsPrefix(t *testing.T) {
	dst := []byte("now: ")
	if got := string(AppendFormat(dst, "%H:%M", berlinNov14)); got != "now: 23:13" {
		t.Errorf("got %q", got)
	}
}

func TestAppendFormatLimit(t *testing.T) {
	for _, tc := range []struct {
		format string
		limit  int
		want   string // "" means ErrTooLong
	}{
		{"%Y", 4, "2023"},
		{"%Y", 3, ""},
		{"%80Y", 80, strings.Repeat("0", 76) + "2023"},
		{"%81Y", 80, ""},
		{"%999999999Y", 1024, ""},
		{"%2147483648c", 1 << 20, ""},
		{"%30c", 30, "      Tue Nov 14 23:13:20 2023"},
		{"%30c", 29, ""},
		{"%c", 23, ""},
		{strings.Repeat("%c", 43), 1024, ""},
		{strings.Repeat("%c", 42), 1024, strings.Repeat("Tue Nov 14 23:13:20 2023", 42)},
		{"%^ı", 3, "%^I"},
		{"%^ȿ", 4, ""}, // the upper case is a byte longer
		{"abc", 0, ""},
		{"", 0, ""},
		{"x", -1, ""},
	} {
		dst := []byte("pre")
		got, err := AppendFormatLimit(dst, tc.format, berlinNov14, tc.limit)
		if tc.want == "" && tc.format != "" {
			if !errors.Is(err, ErrTooLong) || string(got) != "pre" {
				t.Errorf("%.20q limit %d: got %q, %v; want dst unchanged and ErrTooLong", tc.format, tc.limit, got, err)
			}
			continue
		}
		if err != nil || string(got) != "pre"+tc.want {
			t.Errorf("%.20q limit %d: got %q, %v; want %q", tc.format, tc.limit, got, err, tc.want)
		}
	}
}

// TestBrokenDownMatchesTime checks the calendar arithmetic against the
// time package over ±100,000 years and many zone offsets.
func TestBrokenDownMatchesTime(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const span = 100000 * 366 * 86400
	for i := range 200000 {
		secs := r.Int64N(2*span) - span
		if i < 1000 {
			secs = int64(i-500) * 86399 // around the epoch, and whole days
		}
		loc := time.FixedZone("Z", r.IntN(2*86400)-86400)
		tt := time.Unix(secs, 0).In(loc)
		got := brokenDown(tt)
		y, m, d := tt.Date()
		h, mi, s := tt.Clock()
		wy, ww := tt.ISOWeek()
		gy, gw := got.isoWeek()
		if got.year != int64(y) || got.mon != int(m) || got.mday != d || got.hour != h || got.min != mi || got.sec != s ||
			got.wday != int(tt.Weekday()) || got.yday != tt.YearDay()-1 || got.unix != secs || gy != int64(wy) || gw != ww {
			t.Fatalf("%d in %v: %+v (ISO %d-W%d), time says %v (ISO %d-W%d)", secs, loc, got, gy, gw, tt, wy, ww)
		}
	}
}

// The service formats into a reused buffer; a conversion must not
// allocate on its own.
func TestAppendFormatDoesNotAllocate(t *testing.T) {
	dst := make([]byte, 0, 4096)
	for _, f := range []string{DefaultFormat, "%c %^30c %s %z %Z %G-W%V-%u", "时间 %^é %9é %#Z %-5Q %"} {
		if n := testing.AllocsPerRun(100, func() { AppendFormat(dst[:0], f, berlinNov14) }); n != 0 {
			t.Errorf("%q: %v allocations per call", f, n)
		}
		req := []byte(f)
		if n := testing.AllocsPerRun(100, func() { appendReply(dst[:0], req, berlinNov14) }); n != 0 {
			t.Errorf("reply to %q: %v allocations per call", f, n)
		}
	}
}

func TestStringAndBytesFormatsAgree(t *testing.T) {
	for _, f := range pythonFormats {
		a, errA := appendFormat(nil, f, berlinNov14, 4096)
		b, errB := appendFormat(nil, []byte(f), berlinNov14, 4096)
		if !bytes.Equal(a, b) || errA != errB {
			t.Errorf("%q: %q, %v as a string; %q, %v as bytes", f, a, errA, b, errB)
		}
	}
}
