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
				Compressed: true, Rejects: json.RawMessage(`[{"line":7,"reason":"$http_user_agent: quoted value not closed (truncated line?)"}]`)},
			{Path: "logs/b.log.gz", SHA256: "cd34", Bytes: 500, Format: "nginx", Lines: 500, Parsed: 500, Truncated: true, Rejects: json.RawMessage(`[]`)},
		},
		Totals: store.Totals{Files: 2, Lines: 1500, Parsed: 1498, Rejected: 2, ExposureEvents: 12, ConfirmedEvents: 10,
			PossibleEvents: 2, EmptyEvents: 3, UnattributedEvents: 1, Confirmed: 4, Possible: 2, UnresolvedOwners: 1, UnresolvedEvents: 1},
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
