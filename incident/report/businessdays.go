package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
)

// businessClock is the end of a period of n business days of country, in
// loc (the case's time zone): 00:00 of the day after the n-th business day.
// A business day is a Monday to Friday that is not one of the country's
// public holidays listed in the case file (calendar.holidays); the source
// gives no holiday calendars, so none are built in. Like dayClock it counts
// the day of from as day 1 when that day is a business day, so the deadline
// holds under either reading of "within n business days".
//
// note says which holidays were skipped, or that the case lists none for
// the country and every weekday was counted as a business day (to check).
func businessClock(c *incident.Case, country string, from time.Time, n int) (time.Time, string) {
	loc := caseLoc(c)
	end, skipped := countBusinessDays(c, country, from, n, loc)
	// The regulator counts its own days: where its zone is behind the
	// case's, a count in the case's zone alone could end after the
	// statute's (a Saturday start in Tokyo is still Friday in New York).
	// The earlier of the two ends is kept.
	if rz, ok := regulatorZones[country]; ok {
		if rl, err := time.LoadLocation(rz); err == nil && rl.String() != loc.String() {
			if e, sk := countBusinessDays(c, country, from, n, rl); e.Before(end) {
				end, skipped, loc = e, sk, rl
			}
		}
	}
	var note string
	_, listed := c.Holiday(country, "")
	switch {
	case !listed:
		note = fmt.Sprintf("business days skip Saturdays and Sundays (%s); the case file gives no public holidays for %s (calendar.holidays.%s), so any holiday was counted as a business day: check",
			loc, country, country)
	case len(skipped) == 0:
		note = fmt.Sprintf("business days skip Saturdays, Sundays and the %s holidays of the case file (%s); none fell in the period", country, loc)
	default:
		note = fmt.Sprintf("business days skip Saturdays, Sundays and the %s holidays of the case file (%s); skipped: %s", country, loc, strings.Join(skipped, ", "))
	}
	return end, note
}

// regulatorZones is where a country's regulator counts its business days
// (the SEC in Washington, the ANPD in Brasília).
var regulatorZones = map[string]string{"US": "America/New_York", "BR": "America/Sao_Paulo"}

// countBusinessDays is 00:00 in loc of the day after the n-th business day
// counted from from's day (day 1 when it is a business day), and the
// holidays skipped.
func countBusinessDays(c *incident.Case, country string, from time.Time, n int, loc *time.Location) (time.Time, []string) {
	d := from.In(loc)
	d = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	var skipped []string
	for count := 0; ; d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		if h, _ := c.Holiday(country, d.Format(time.DateOnly)); h {
			skipped = append(skipped, d.Format(time.DateOnly))
			continue
		}
		if count++; count == n {
			break
		}
	}
	return d.AddDate(0, 0, 1), skipped
}
