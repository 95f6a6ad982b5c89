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
	case "de":
		return deFormat{}
	case "fr":
		return frFormat{}
	case "es":
		return esFormat{}
	case "it":
		return itFormat{}
	case "nl":
		return nlFormat{}
	case "ko":
		return koFormat{}
	case "pt":
		return ptFormat{}
	case "zh-Hans":
		return zhFormat{and: "和", local: map[string]string{"Asia/Shanghai": "北京时间"}}
	case "zh-Hant":
		return zhFormat{and: "與", local: map[string]string{"Asia/Taipei": "臺灣時間", "Asia/Hong_Kong": "香港時間", "Asia/Macau": "澳門時間"}}
	}
	return isoFormat{}
}

// textWidth is the column the text part of a locale's notices is wrapped
// at: 0 for languages written without spaces between words.
func textWidth(locale string) int {
	lang, _, _ := strings.Cut(locale, "-")
	switch lang {
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

// joinList joins items the way most European languages do: commas, and
// the conjunction before the last.
func joinList(items []string, and string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " " + and + " " + items[len(items)-1]
}

// offsetZone is the zone as " (UTC+02:00)", with the locale's own
// abbreviation first when it has one for the zone: the tz database's
// (CEST, JST) are English.
func offsetZone(t time.Time, abbr map[string]string) string {
	if a := abbr[zoneAbbr(t)]; a != "" {
		return " (" + a + ", " + offset(t) + ")"
	}
	return " (" + offset(t) + ")"
}

// period is a locale's "from a to b" with the zone once at the end when it
// does not change, after each time when it does.
func period(a, b time.Time, from, to string, at func(time.Time) string, zone func(time.Time) string) string {
	if !sameZone(a, b) {
		return from + at(a) + zone(a) + to + at(b) + zone(b)
	}
	return from + at(a) + to + at(b) + zone(b)
}

var deMonths = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}

// deFormat: "3. Dezember 2026 um 14:05 Uhr (MEZ, UTC+01:00)", "1.234",
// "A, B und C".
type deFormat struct{}

var deZones = map[string]string{"CET": "MEZ", "CEST": "MESZ"}

func (deFormat) Date(t time.Time) string {
	return fmt.Sprintf("%d. %s %d", t.Day(), deMonths[t.Month()-1], t.Year())
}
func (f deFormat) DateTime(t time.Time) string {
	return f.Date(t) + " um " + t.Format("15:04") + " Uhr" + offsetZone(t, deZones)
}
func (f deFormat) Period(a, b time.Time) string {
	if sameZone(a, b) && sameDay(a, b) {
		return "vom " + f.Date(a) + ", " + a.Format("15:04") + " Uhr, bis " + b.Format("15:04") + " Uhr" + offsetZone(b, deZones)
	}
	at := func(t time.Time) string { return f.Date(t) + ", " + t.Format("15:04") + " Uhr" }
	return period(a, b, "vom ", ", bis zum ", at, func(t time.Time) string { return offsetZone(t, deZones) })
}
func (deFormat) Number(n int) string        { return groupDigits(n, ".") }
func (deFormat) List(items []string) string { return joinList(items, "und") }

var frMonths = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"}

// frFormat: "1er décembre 2026 à 14 h 05 (UTC+01:00)", "1 234" (narrow
// no-break space), "A, B et C". The spaces inside a time are no-break, so
// a wrapped line never splits "14 h 05".
type frFormat struct{}

func (frFormat) Date(t time.Time) string {
	d := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		d = "1er"
	}
	return d + " " + frMonths[t.Month()-1] + " " + strconv.Itoa(t.Year())
}
func (frFormat) clock(t time.Time) string {
	return fmt.Sprintf("%d\u00a0h\u00a0%02d", t.Hour(), t.Minute())
}
func (f frFormat) DateTime(t time.Time) string {
	return f.Date(t) + " à " + f.clock(t) + offsetZone(t, nil)
}
func (f frFormat) Period(a, b time.Time) string {
	at := func(t time.Time) string { return f.Date(t) + " à " + f.clock(t) }
	return period(a, b, "du ", " au ", at, func(t time.Time) string { return offsetZone(t, nil) })
}
func (frFormat) Number(n int) string        { return groupDigits(n, "\u202f") }
func (frFormat) List(items []string) string { return joinList(items, "et") }

var esMonths = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}

// esFormat: "3 de diciembre de 2026 a las 14:05 (UTC+01:00)", "1.234",
// "A, B y C" ("e" before a word that starts with the sound i).
type esFormat struct{}

func (esFormat) Date(t time.Time) string {
	return fmt.Sprintf("%d de %s de %d", t.Day(), esMonths[t.Month()-1], t.Year())
}
func (esFormat) clock(t time.Time) string {
	if t.Hour() == 1 {
		return fmt.Sprintf("a la 1:%02d", t.Minute())
	}
	return fmt.Sprintf("a las %d:%02d", t.Hour(), t.Minute())
}
func (f esFormat) DateTime(t time.Time) string {
	return f.Date(t) + " " + f.clock(t) + offsetZone(t, nil)
}
func (f esFormat) Period(a, b time.Time) string {
	at := func(t time.Time) string { return f.Date(t) + " " + f.clock(t) }
	return period(a, b, "del ", " al ", at, func(t time.Time) string { return offsetZone(t, nil) })
}
func (esFormat) Number(n int) string { return groupDigits(n, ".") }
func (esFormat) List(items []string) string {
	if len(items) < 2 {
		return joinList(items, "y")
	}
	last := strings.ToLower(items[len(items)-1])
	if (strings.HasPrefix(last, "i") || strings.HasPrefix(last, "hi")) && !strings.HasPrefix(last, "hie") && !strings.HasPrefix(last, "hia") {
		return joinList(items, "e")
	}
	return joinList(items, "y")
}

var itMonths = [...]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"}

// itFormat: "3 dicembre 2026 alle ore 14:05 (UTC+01:00)", "1º dicembre",
// "1.234", "A, B e C". A period is "dal ... al ...", elided before 8 and 11
// ("dall'8 ... all'11").
type itFormat struct{}

func (itFormat) Date(t time.Time) string {
	d := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		d = "1º"
	}
	return d + " " + itMonths[t.Month()-1] + " " + strconv.Itoa(t.Year())
}
func (f itFormat) DateTime(t time.Time) string {
	return f.Date(t) + " alle ore " + fmt.Sprintf("%d:%02d", t.Hour(), t.Minute()) + offsetZone(t, nil)
}
func (f itFormat) Period(a, b time.Time) string {
	at := func(t time.Time) string { return f.Date(t) + ", ore " + fmt.Sprintf("%d:%02d", t.Hour(), t.Minute()) }
	elide := func(prep string, t time.Time) string { // dal/al before a vowel sound: dall'8, all'11
		if t.Day() == 8 || t.Day() == 11 {
			return strings.TrimSuffix(prep, "l ") + "ll'"
		}
		return prep
	}
	return period(a, b, elide("dal ", a), ", "+elide("al ", b), at, func(t time.Time) string { return offsetZone(t, nil) })
}
func (itFormat) Number(n int) string        { return groupDigits(n, ".") }
func (itFormat) List(items []string) string { return joinList(items, "e") }

var nlMonths = [...]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"}

// nlFormat: "3 december 2026 om 14:05 uur (UTC+01:00)", "1.234",
// "A, B en C".
type nlFormat struct{}

func (nlFormat) Date(t time.Time) string {
	return fmt.Sprintf("%d %s %d", t.Day(), nlMonths[t.Month()-1], t.Year())
}
func (f nlFormat) DateTime(t time.Time) string {
	return f.Date(t) + " om " + t.Format("15:04") + " uur" + offsetZone(t, nil)
}
func (f nlFormat) Period(a, b time.Time) string {
	at := func(t time.Time) string { return f.Date(t) + ", " + t.Format("15:04") + " uur" }
	return period(a, b, "van ", " tot ", at, func(t time.Time) string { return offsetZone(t, nil) })
}
func (nlFormat) Number(n int) string        { return groupDigits(n, ".") }
func (nlFormat) List(items []string) string { return joinList(items, "en") }

// koFormat: "2026년 12월 3일 14:05 (한국 시간)", "1,234", "A, B 및 C".
// Outside Korea the zone is "(PDT, UTC-07:00)".
type koFormat struct{}

func (koFormat) zone(t time.Time) string {
	if t.Location().String() == "Asia/Seoul" {
		return " (한국 시간)"
	}
	if a := zoneAbbr(t); a != "" {
		return " (" + a + ", " + offset(t) + ")"
	}
	return " (" + offset(t) + ")"
}
func (koFormat) Date(t time.Time) string {
	return fmt.Sprintf("%d년 %d월 %d일", t.Year(), t.Month(), t.Day())
}
func (f koFormat) DateTime(t time.Time) string {
	return f.Date(t) + " " + t.Format("15:04") + f.zone(t)
}
func (f koFormat) Period(a, b time.Time) string {
	switch {
	case !sameZone(a, b):
		return f.DateTime(a) + " ~ " + f.DateTime(b)
	case sameDay(a, b):
		return f.Date(a) + " " + a.Format("15:04") + "~" + b.Format("15:04") + f.zone(b)
	case a.Year() == b.Year():
		return f.Date(a) + " " + a.Format("15:04") + " ~ " + fmt.Sprintf("%d월 %d일", b.Month(), b.Day()) + " " + b.Format("15:04") + f.zone(b)
	}
	return f.Date(a) + " " + a.Format("15:04") + " ~ " + f.Date(b) + " " + b.Format("15:04") + f.zone(b)
}
func (koFormat) Number(n int) string        { return groupDigits(n, ",") }
func (koFormat) List(items []string) string { return joinList(items, "및") }

var ptMonths = [...]string{"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"}

// ptFormat (Brazil): "3 de dezembro de 2026, às 14h05 (horário de
// Brasília, UTC-03:00)", "1º de dezembro", "1.234", "A, B e C".
type ptFormat struct{}

func (ptFormat) zone(t time.Time) string {
	if t.Location().String() == "America/Sao_Paulo" {
		return " (horário de Brasília, " + offset(t) + ")"
	}
	return offsetZone(t, nil)
}
func (ptFormat) Date(t time.Time) string {
	d := strconv.Itoa(t.Day())
	if t.Day() == 1 {
		d = "1º"
	}
	return d + " de " + ptMonths[t.Month()-1] + " de " + strconv.Itoa(t.Year())
}

// clock is "às 14h05", "à 1h30" (one o'clock takes the singular article).
func (ptFormat) clock(t time.Time) string {
	if t.Hour() == 1 {
		return fmt.Sprintf("à 1h%02d", t.Minute())
	}
	return fmt.Sprintf("às %dh%02d", t.Hour(), t.Minute())
}
func (f ptFormat) DateTime(t time.Time) string { return f.Date(t) + ", " + f.clock(t) + f.zone(t) }
func (f ptFormat) Period(a, b time.Time) string {
	if sameZone(a, b) && sameDay(a, b) {
		from := "das " // das 9h05 às 14h38; da 1h05 às 2h00
		if a.Hour() == 1 {
			from = "da "
		}
		return "em " + f.Date(a) + ", " + from + fmt.Sprintf("%dh%02d ", a.Hour(), a.Minute()) + f.clock(b) + f.zone(b)
	}
	at := func(t time.Time) string { return f.Date(t) + ", " + f.clock(t) }
	return period(a, b, "de ", ", a ", at, f.zone)
}
func (ptFormat) Number(n int) string        { return groupDigits(n, ".") }
func (ptFormat) List(items []string) string { return joinList(items, "e") }

// zhFormat (Simplified and Traditional Chinese): "2026年12月3日 14:05（北京时间）"
// in the script's home zones, "（UTC+09:00）" elsewhere; "1,234"; "A、B和C"
// (與 in Traditional Chinese).
type zhFormat struct {
	and   string
	local map[string]string // time zone name -> its local name
}

func (f zhFormat) zone(t time.Time) string {
	if n := f.local[t.Location().String()]; n != "" {
		return "（" + n + "）"
	}
	if a := zoneAbbr(t); a != "" {
		return "（" + a + "，" + offset(t) + "）"
	}
	return "（" + offset(t) + "）"
}
func (zhFormat) Date(t time.Time) string { return t.Format("2006年1月2日") }
func (f zhFormat) DateTime(t time.Time) string {
	return f.Date(t) + " " + t.Format("15:04") + f.zone(t)
}
func (f zhFormat) Period(a, b time.Time) string {
	switch {
	case !sameZone(a, b):
		return f.DateTime(a) + "至" + f.DateTime(b)
	case sameDay(a, b):
		return f.Date(a) + " " + a.Format("15:04") + "至" + b.Format("15:04") + f.zone(b)
	case a.Year() == b.Year():
		return f.Date(a) + " " + a.Format("15:04") + "至" + b.Format("1月2日") + " " + b.Format("15:04") + f.zone(b)
	}
	return f.Date(a) + " " + a.Format("15:04") + "至" + f.Date(b) + " " + b.Format("15:04") + f.zone(b)
}
func (zhFormat) Number(n int) string { return groupDigits(n, ",") }
func (f zhFormat) List(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], "、") + f.and + items[len(items)-1]
}

// isoFormat serves a locale without its own conventions.
type isoFormat struct{}

func (isoFormat) Date(t time.Time) string { return t.Format("2006-01-02") }
func (isoFormat) DateTime(t time.Time) string {
	return t.Format("2006-01-02 15:04 ") + strings.TrimSpace(zoneAbbr(t)+" ("+offset(t)+")")
}
func (f isoFormat) Period(a, b time.Time) string { return f.DateTime(a) + " – " + f.DateTime(b) }
func (isoFormat) Number(n int) string            { return strconv.Itoa(n) }
func (isoFormat) List(items []string) string     { return strings.Join(items, ", ") }
