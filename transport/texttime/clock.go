package texttime

import "time"

// tm is the broken-down time strftime reads (C's struct tm), computed the
// way glibc's localtime does: from the Unix time plus the zone's offset, on
// the proleptic Gregorian calendar with a year 0.
type tm struct {
	year   int64 // full year, not tm_year's year - 1900
	mon    int   // 1-12
	mday   int   // 1-31
	hour   int
	min    int
	sec    int
	wday   int // 0 = Sunday
	yday   int // 0-365
	zone   string
	gmtoff int   // seconds east of UTC
	unix   int64 // %s
}

// brokenDown splits t as seen in its location. One pass over the day
// number replaces the separate calls of t.Date, t.Clock, t.YearDay and
// t.Weekday, each of which would redo the same division.
func brokenDown(t time.Time) tm {
	zone, off := t.Zone()
	unix := t.Unix()
	local := unix + int64(off)
	days := floorDiv(local, 86400)
	secs := int(local - days*86400)
	y, m, d := civil(days)
	return tm{
		year:   y,
		mon:    m,
		mday:   d,
		hour:   secs / 3600,
		min:    secs / 60 % 60,
		sec:    secs % 60,
		wday:   int(floorMod(days+4, 7)), // 1970-01-01 was a Thursday
		yday:   yearDay(y, m, d),
		zone:   zone,
		gmtoff: off,
		unix:   unix,
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// civil converts days since 1970-01-01 to a date. The year is counted from
// March so that the leap day falls at the end of it; 400 years make an era
// of exactly 146,097 days.
func civil(days int64) (year int64, month, day int) {
	z := days + 719468 // days from 0000-03-01
	era := floorDiv(z, 146097)
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365], from March 1
	mp := (5*doy + 2) / 153                                // [0, 11], March = 0
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp) + 3
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

var daysBefore = [...]int{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func yearDay(y int64, m, d int) int {
	n := daysBefore[m-1] + d - 1
	if m > 2 && isLeap(y) {
		n++
	}
	return n
}

// isoWeekDays is glibc's iso_week_days: the number of days from the
// Monday of the week that holds the year's first Thursday to day yday
// (negative before it).
func isoWeekDays(yday, wday int) int {
	const bigEnoughMultipleOf7 = (366/7 + 2) * 7
	return yday - (yday-wday+4+bigEnoughMultipleOf7)%7 + 3
}

// isoWeek returns the ISO 8601 week-numbering year and week (%G, %V),
// with glibc's arithmetic so that the two agree for every year.
func (t *tm) isoWeek() (year int64, week int) {
	year = t.year
	days := isoWeekDays(t.yday, t.wday)
	if days < 0 {
		year--
		days = isoWeekDays(t.yday+365+leapDay(year), t.wday)
	} else if d := isoWeekDays(t.yday-(365+leapDay(year)), t.wday); d >= 0 {
		year++
		days = d
	}
	return year, days/7 + 1
}

func leapDay(y int64) int {
	if isLeap(y) {
		return 1
	}
	return 0
}

// hour12 is the hour on a 12-hour clock, 12 for noon and midnight.
func (t *tm) hour12() int {
	if h := t.hour % 12; h != 0 {
		return h
	}
	return 12
}

// Names in the C locale, which is the locale Python leaves LC_TIME in.
var (
	weekdayAbbr = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	weekdayFull = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthAbbr   = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	monthFull   = [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
)
