package triage

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
)

func sample() *Summary {
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	at := func(s string) *time.Time { t, _ := time.Parse(time.RFC3339, s); return &t }
	ingested := at("2017-06-23T02:00:00Z")
	return &Summary{
		Case: "web-cache-2017-06", Title: "Customer pages served to other customers by the CDN", Run: 2,
		Window:   Window{Start: *at("2017-06-22T00:41:00Z"), End: *at("2017-06-22T06:38:00Z")},
		Observed: Observed{FirstExposure: at("2017-06-22T00:41:05Z"), LastExposure: at("2017-06-22T06:37:58Z")},
		Evidence: []Evidence{
			{Path: "logs/a.log.gz", SHA256: "ab12", Bytes: 1000, Format: "nginx", Lines: 1000, Parsed: 998, Rejected: 2,
				Compressed: true, Rejects: json.RawMessage(`[{"line":7,"reason":"$http_user_agent: quoted value not closed (truncated line?)"}]`),
				UnknownCache: map[string]int64{"PASS": 5, "weird": 5, "x": 9}},
			{Path: "logs/b.log.gz", SHA256: "cd34", Bytes: 500, Format: "nginx", Lines: 500, Parsed: 500, Truncated: true, Rejects: json.RawMessage(`[]`)},
		},
		Totals: store.Totals{Files: 2, Lines: 1500, Parsed: 1498, Rejected: 2, ExposureEvents: 12, ConfirmedEvents: 10,
			PossibleEvents: 2, EmptyEvents: 3, UnattributedEvents: 1, Confirmed: 4, Possible: 2, UnresolvedOwners: 1, UnresolvedEvents: 1,
			PrivateUnknown: 3, UnknownCache: map[string]int64{"PASS": 5, "weird": 5, "x": 9}},
		Affected:   Affected{Confirmed: 4, Possible: 2},
		ByCategory: map[string]int{"name": 4, "bank_account": 2, "postal_address": 3},
		ByRegion:   map[string]int{"JP-13": 3, "US-CA": 2, "DE-BY": 1},
		ByCountry:  map[string]int{"JP": 3, "US": 2, "DE": 1},
		TopViewers: []Viewer{{Viewer: "user:42", People: 3, Views: 4}, {Viewer: "ip:203.0.113.9", People: 1, Views: 1}},
		Timeline: []TimelineBucket{
			{Start: *at("2017-06-22T00:40:00Z"), Confirmed: 4, Possible: 1},
			{Start: *at("2017-06-22T01:10:00Z"), Confirmed: 6, Possible: 1},
		},
		Unresolved: Unresolved{Owners: 1},
		Ingested:   ingested,
		location:   tokyo,
	}
}

func TestTriageRendering(t *testing.T) {
	s := sample()
	var text, html, js bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "triage.txt.golden"), text.Bytes())
	if err := s.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "triage.html.golden"), html.Bytes())
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	// The JSON contract's keys (DESIGN.md) are all present.
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"case", "run", "window", "observed", "evidence", "totals", "affected", "by_category", "by_region", "top_viewers"} {
		if _, ok := m[k]; !ok {
			t.Errorf("triage JSON lacks %q", k)
		}
	}
	tot := m["totals"].(map[string]any)
	for _, k := range []string{"lines", "parsed", "rejected", "outside_window", "exposure_events", "unattributed_events", "empty_events"} {
		if _, ok := tot[k]; !ok {
			t.Errorf("triage JSON totals lack %q", k)
		}
	}
	if bytes.Contains(html.Bytes(), []byte("http://")) || bytes.Contains(html.Bytes(), []byte("https://")) {
		t.Errorf("the HTML report refers to an external resource")
	}
}

// TestWindowAcrossMidnight: an end on another day than the start is shown
// with its date (issue 14: "2019-12-01 00:00 – 00:00" read as no time at all).
func TestWindowAcrossMidnight(t *testing.T) {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	for _, tc := range []struct {
		from, to, clock, want string
	}{
		{"2019-11-30T23:00:00Z", "2019-12-01T00:00:00Z", "15:04", "2019-11-30 23:00 – 2019-12-01 00:00 UTC"},
		{"2019-12-01T00:00:00Z", "2019-12-01T00:00:00Z", "15:04", "2019-12-01 00:00 – 00:00 UTC"},
		{"2019-12-01T00:00:00Z", "2019-12-01T06:30:00Z", "15:04", "2019-12-01 00:00 – 06:30 UTC"},
		{"2019-12-01T23:59:59Z", "2019-12-02T00:00:01Z", "15:04:05", "2019-12-01 23:59:59 – 2019-12-02 00:00:01 UTC"},
	} {
		if got := Span(at(tc.from), at(tc.to), time.UTC, tc.clock); got != tc.want {
			t.Errorf("Span(%s, %s) = %q, want %q", tc.from, tc.to, got, tc.want)
		}
	}
	s := sample()
	s.location = time.UTC
	s.Window = Window{Start: at("2019-11-30T23:00:00Z"), End: at("2019-12-01T00:00:00Z")}
	f, l := at("2019-11-30T23:10:00Z"), at("2019-12-01T00:00:00Z")
	s.Observed = Observed{FirstExposure: &f, LastExposure: &l}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"declared  2019-11-30 23:00 – 2019-12-01 00:00 UTC (1h)", "observed  2019-11-30 23:10:00 – 2019-12-01 00:00:00 UTC"} {
		if !bytes.Contains(text.Bytes(), []byte(want)) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// TestUnknownCacheShown: unknown cache results are listed by count, then
// value, the same on every run, in text, JSON and HTML.
func TestUnknownCacheShown(t *testing.T) {
	s := sample()
	for i := 0; i < 20; i++ {
		var text, html, js bytes.Buffer
		if err := s.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteHTML(&html); err != nil {
			t.Fatal(err)
		}
		if err := s.WriteJSON(&js); err != nil {
			t.Fatal(err)
		}
		if want := `Unknown cache results (lines): "x" 9, "PASS" 5, "weird" 5`; !bytes.Contains(text.Bytes(), []byte(want)) {
			t.Fatalf("text lacks %q:\n%s", want, text.String())
		}
		if want := "3 private-page responses with an unknown cache result"; !bytes.Contains(text.Bytes(), []byte(want)) {
			t.Fatalf("text lacks %q:\n%s", want, text.String())
		}
		if want := `<tr><td><code>x</code></td><td class="n">9</td></tr><tr><td><code>PASS</code></td>`; !bytes.Contains(html.Bytes(), []byte(want)) {
			t.Fatalf("html lacks %q", want)
		}
		var m struct {
			Evidence []struct {
				UnknownCache map[string]int64 `json:"unknown_cache"`
			} `json:"evidence"`
			Totals struct {
				UnknownCache map[string]int64 `json:"unknown_cache"`
			} `json:"totals"`
		}
		if err := json.Unmarshal(js.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m.Evidence[0].UnknownCache["x"] != 9 || m.Totals.UnknownCache["PASS"] != 5 {
			t.Fatalf("json: %s", js.String())
		}
	}
}
