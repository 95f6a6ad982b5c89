package logs

// Fast, allocation-free time parsing for the layouts access logs use. All
// return Unix nanoseconds (UTC) and ok=false on anything malformed.

// daysFromCivil returns days since 1970-01-01 for a proleptic Gregorian date
// (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func civilOK(y, m, d, hh, mm, ss int) bool {
	if m < 1 || m > 12 || d < 1 || d > daysIn[m] || hh > 23 || mm > 59 || ss > 60 {
		return false
	}
	if m == 2 && d == 29 && !(y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		return false
	}
	return true
}

func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func unixNanos(y, m, d, hh, mm, ss int, frac int64, offsetSec int) int64 {
	secs := daysFromCivil(y, m, d)*86400 + int64(hh*3600+mm*60+ss) - int64(offsetSec)
	return secs*1e9 + frac
}

func monthNum(b []byte) int {
	if len(b) != 3 {
		return 0
	}
	switch string(b) { // no allocation: the compiler optimises string(b) in switch
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

// parseOffset parses "+0900", "-0530", "+09:00", "Z".
func parseOffset(b []byte) (int, bool) {
	if len(b) == 1 && (b[0] == 'Z' || b[0] == 'z') {
		return 0, true
	}
	if len(b) != 5 && len(b) != 6 {
		return 0, false
	}
	sign := 1
	switch b[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, false
	}
	h, ok1 := digits(b[1:3])
	mb := b[3:]
	if len(b) == 6 {
		if b[3] != ':' {
			return 0, false
		}
		mb = b[4:]
	}
	m, ok2 := digits(mb)
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

// ParseCLFTime parses nginx $time_local / Apache %t: "22/Jun/2017:09:41:00 +0900".
func ParseCLFTime(b []byte) (int64, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, false
	}
	d, ok1 := digits(b[0:2])
	m := monthNum(b[3:6])
	y, ok2 := digits(b[7:11])
	hh, ok3 := digits(b[12:14])
	mm, ok4 := digits(b[15:17])
	ss, ok5 := digits(b[18:20])
	off, ok6 := parseOffset(b[21:26])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || m == 0 || !civilOK(y, m, d, hh, mm, ss) {
		return 0, false
	}
	return unixNanos(y, m, d, hh, mm, ss, 0, off), true
}

// ParseRFC3339 parses "2017-06-22T09:41:00+09:00", with optional fraction
// ("...00.123456789Z"), 'T' or ' ' between date and time. coarse reports a
// time without fraction.
func ParseRFC3339(b []byte) (ns int64, coarse bool, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't' && b[10] != ' ') || b[13] != ':' || b[16] != ':' {
		return 0, false, false
	}
	y, ok1 := digits(b[0:4])
	m, ok2 := digits(b[5:7])
	d, ok3 := digits(b[8:10])
	hh, ok4 := digits(b[11:13])
	mm, ok5 := digits(b[14:16])
	ss, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !civilOK(y, m, d, hh, mm, ss) {
		return 0, false, false
	}
	rest := b[19:]
	var frac int64
	coarse = true
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		scale := int64(1e8)
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if scale > 0 {
				frac += int64(rest[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == 1 {
			return 0, false, false
		}
		rest = rest[i:]
		coarse = false
	}
	off, ok7 := parseOffset(rest)
	if !ok7 {
		return 0, false, false
	}
	return unixNanos(y, m, d, hh, mm, ss, frac, off), coarse, true
}

// ParseUnixDecimal parses "1498092060.123" (seconds with an optional
// fraction, as nginx $msec). coarse reports no fraction.
func ParseUnixDecimal(b []byte) (ns int64, coarse bool, ok bool) {
	if len(b) == 0 || len(b) > 30 {
		return 0, false, false
	}
	var secs int64
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		secs = secs*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 || i > 12 {
		return 0, false, false
	}
	if i == len(b) {
		return secs * 1e9, true, true
	}
	if b[i] != '.' || i+1 == len(b) {
		return 0, false, false
	}
	var frac int64
	scale := int64(1e8)
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		if c < '0' || c > '9' {
			return 0, false, false
		}
		if scale > 0 {
			frac += int64(c-'0') * scale
			scale /= 10
		}
	}
	return secs*1e9 + frac, false, true
}

// ParseDateTime parses CloudFront's separate date ("2017-06-22") and time
// ("00:41:00") fields, in UTC.
func ParseDateTime(date, clock []byte) (int64, bool) {
	if len(date) != 10 || date[4] != '-' || date[7] != '-' || len(clock) != 8 || clock[2] != ':' || clock[5] != ':' {
		return 0, false
	}
	y, ok1 := digits(date[0:4])
	m, ok2 := digits(date[5:7])
	d, ok3 := digits(date[8:10])
	hh, ok4 := digits(clock[0:2])
	mm, ok5 := digits(clock[3:5])
	ss, ok6 := digits(clock[6:8])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !civilOK(y, m, d, hh, mm, ss) {
		return 0, false
	}
	return unixNanos(y, m, d, hh, mm, ss, 0, 0), true
}
