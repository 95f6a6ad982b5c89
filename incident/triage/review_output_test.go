package triage

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Hostile values as they reach triage from log lines, file names and user
// records (issue 21, finding 3).
const (
	clearScreen = "\x1b[2J\x1b[H"
	forged      = "\nFAKE LINE"
	bidi        = "\u202e"
	badByte     = "\x93"
)

// hostileSummary is sample() with a hostile value in every field that
// comes from outside: file names, reject reasons, viewers (client
// addresses), regions and countries, the case title.
func hostileSummary() *Summary {
	s := sample()
	s.Title = "Title" + clearScreen
	s.Evidence[0].Path = "logs/a" + forged + ".log.gz"
	s.Evidence[0].Rejects = json.RawMessage(`[{"line":7,"reason":"bad host \"\u001b[2J\nFAKE LINE\""}]`)
	s.Evidence[1].Path = "logs/b" + clearScreen + bidi + badByte + ".gz"
	s.TopViewers[1].Viewer = "ip:203.0.113.9" + clearScreen + forged
	s.ByRegion = map[string]int{"JP-13" + forged: 3, "JP-14" + clearScreen: 2}
	s.ByCountry = map[string]int{"JP": 5, "US" + bidi: 1}
	s.ByCategory = map[string]int{"name" + forged: 4}
	return s
}

// checkInert fails when out holds a control byte other than a newline, a
// bidi control, an invalid byte, or a line that a value forged.
func checkInert(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: output is not valid UTF-8:\n%q", what, out)
	}
	for _, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			t.Errorf("%s: output holds %U raw:\n%q", what, r, out)
			break
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "FAKE LINE") {
			t.Errorf("%s: a value forged the line %q:\n%s", what, line, out)
		}
	}
}

func TestTriageTextEscapesExternalValues(t *testing.T) {
	s := hostileSummary()
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	checkInert(t, "triage text", out)
	for _, want := range []string{
		`logs/a\nFAKE LINE.log.gz: 2 rejected`,
		`bad host "\x1b[2J\nFAKE LINE"`,
		`TRUNCATED  logs/b\x1b[2J\x1b[H\u202e\x93.gz`,
		`ip:203.0.113.9\x1b[2J\x1b[H\nFAKE LINE`,
		`JP-13\nFAKE LINE 3`,
		`JP-14\x1b[2J\x1b[H 2`,
		`US\u202e`,
		`name\nFAKE LINE`,
		`Title\x1b[2J\x1b[H`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("triage text lacks %q (the value, visibly escaped):\n%s", want, out)
		}
	}
}

func TestTriageHTMLEscapesExternalValues(t *testing.T) {
	s := hostileSummary()
	s.Evidence[0].Path = `logs/<script>alert(1)</script>.gz`
	s.ByRegion = map[string]int{`<img src=x onerror=alert(1)>`: 1}
	var html bytes.Buffer
	if err := s.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(html.String(), bad) {
			t.Errorf("triage HTML holds %q unescaped", bad)
		}
	}
}

func TestDisclosureTextEscapesExternalValues(t *testing.T) {
	at := func(s string) *time.Time { t, _ := time.Parse(time.RFC3339, s); return &t }
	d := &Disclosure{
		Case: "c", Run: 1, UserID: "100" + clearScreen, Affected: true, Level: "confirmed",
		Categories: []string{"name" + forged}, CategoryLevels: map[string]string{"name" + forged: "confirmed"},
		Views: 1, Viewers: 1, FirstExposed: at("2017-06-22T00:41:05Z"), LastExposed: at("2017-06-22T00:41:05Z"),
		Pages: []PageExposure{{Path: "/mypage/profile" + clearScreen + forged + bidi + badByte, Categories: []string{"name" + forged},
			Confirmed: 1, First: at("2017-06-22T00:41:05Z"), Last: at("2017-06-22T00:41:05Z")}},
		loc: time.UTC,
	}
	for _, affected := range []bool{true, false} {
		d.Affected = affected
		var text bytes.Buffer
		if err := d.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		checkInert(t, "disclose text", text.String())
		if affected && !strings.Contains(text.String(), `/mypage/profile\x1b[2J\x1b[H\nFAKE LINE\u202e\x93`) {
			t.Errorf("disclose text lacks the escaped path:\n%s", text.String())
		}
	}
}
