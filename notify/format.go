package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// formatter writes dates and numbers the way a locale's readers expect.
// Times reach it already in the recipient's time zone.
type formatter interface {
	Date(t time.Time) string
	DateTime(t time.Time) string
	Period(a, b time.Time) string
	Number(n int) string
	List(items []string) string
}

func formatterFor(locale string) formatter {
	switch locale {
	case "ja":
		return jaFormat{}
	case "en":
		return enFormat{}
	}
	return isoFormat{}
}

// textWidth is the column the text part of a locale's notices is wrapped
// at: 0 for languages written without spaces between words.
func textWidth(locale string) int {
	switch locale {
	case "ja", "zh", "ko", "th":
		return 0
	}
	return 76
}

// templateFuncs are the functions notice templates can call.
func templateFuncs(f formatter) map[string]any {
	return map[string]any{
		"date":     f.Date,
		"datetime": f.DateTime,
		"period":   f.Period,
		"num":      f.Number,
		"list":     func(cs []categoryView) string { return f.List(labelsOf(cs)) },
		"paras":    paragraphs,
		"lines":    lines,
	}
}

func labelsOf(cs []categoryView) []string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Label
	}
	return s
}

// paragraphs splits free text on blank lines.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// lines splits free text into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// offset formats a UTC offset as UTC+09:00.
func offset(t time.Time) string {
	_, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, off/3600, off%3600/60)
}

// zoneAbbr is the zone's abbreviation (JST, PDT, CEST), empty when the
// database has only a numeric one (+09).
func zoneAbbr(t time.Time) string {
	name, _ := t.Zone()
	if name == "" || name[0] == '+' || name[0] == '-' {
		return ""
	}
	return name
}

func sameZone(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return an == bn && ao == bo
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

func groupDigits(n int, sep string) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

type enFormat struct{}

func (enFormat) zone(t time.Time) string {
	if a := zoneAbbr(t); a != "" {
		return a + " (" + offset(t) + ")"
	}
	return offset(t)
}
func (enFormat) Date(t time.Time) string  { return t.Format("January 2, 2006") }
func (enFormat) clock(t time.Time) string { return t.Format("3:04 PM") }
func (f enFormat) DateTime(t time.Time) string {
	return t.Format("January 2, 2006, ") + f.clock(t) + " " + f.zone(t)
}
func (f enFormat) Period(a, b time.Time) string {
	switch {
	case !sameZone(a, b):
		return f.DateTime(a) + " to " + f.DateTime(b)
	case sameDay(a, b):
		return f.Date(a) + ", " + f.clock(a) + " to " + f.clock(b) + " " + f.zone(b)
	}
	return f.Date(a) + ", " + f.clock(a) + " to " + f.Date(b) + ", " + f.clock(b) + " " + f.zone(b)
}
func (enFormat) Number(n int) string { return groupDigits(n, ",") }
func (enFormat) List(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	return strings.Join(items[:len(items)-1], ", ") + ", and " + items[len(items)-1]
}

type jaFormat struct{}

func (jaFormat) zone(t time.Time) string {
	if t.Location().String() == "Asia/Tokyo" {
		return "（日本時間）"
	}
	if a := zoneAbbr(t); a != "" {
		return "（" + a + "、" + offset(t) + "）"
	}
	return "（" + offset(t) + "）"
}
func (jaFormat) Date(t time.Time) string       { return t.Format("2006年1月2日") }
func (jaFormat) clock(t time.Time) string      { return fmt.Sprintf("%d時%02d分", t.Hour(), t.Minute()) }
func (f jaFormat) DateTime(t time.Time) string { return f.Date(t) + " " + f.clock(t) + f.zone(t) }
func (f jaFormat) Period(a, b time.Time) string {
	switch {
	case !sameZone(a, b):
		return f.DateTime(a) + "～" + f.DateTime(b)
	case sameDay(a, b):
		return f.Date(a) + " " + f.clock(a) + "～" + f.clock(b) + f.zone(b)
	case a.Year() == b.Year():
		return f.Date(a) + " " + f.clock(a) + "～" + b.Format("1月2日") + " " + f.clock(b) + f.zone(b)
	}
	return f.Date(a) + " " + f.clock(a) + "～" + f.Date(b) + " " + f.clock(b) + f.zone(b)
}
func (jaFormat) Number(n int) string        { return groupDigits(n, ",") }
func (jaFormat) List(items []string) string { return strings.Join(items, "、") }

// isoFormat serves a locale without its own conventions.
type isoFormat struct{}

func (isoFormat) Date(t time.Time) string { return t.Format("2006-01-02") }
func (isoFormat) DateTime(t time.Time) string {
	return t.Format("2006-01-02 15:04 ") + strings.TrimSpace(zoneAbbr(t)+" ("+offset(t)+")")
}
func (f isoFormat) Period(a, b time.Time) string { return f.DateTime(a) + " – " + f.DateTime(b) }
func (isoFormat) Number(n int) string            { return strconv.Itoa(n) }
func (isoFormat) List(items []string) string     { return strings.Join(items, ", ") }
