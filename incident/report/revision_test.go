package report

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
)

// run1 is the first count of the fixture's case: fewer people, no card data
// in Japan, nobody in Texas or France yet; the fixture is run 2.
func run1(t testing.TB) Input {
	in := fixture(t)
	in.Run = 1
	in.Affected = join(
		accounts(1000, levelPossible, "JP", "JP-13", "name", "email", "postal_address", "phone"),
		accounts(150, levelPossible, "JP", "JP-27", "name", "postal_address", "phone", "bank_account"),
		accounts(400, levelPossible, "US", "US-CA", "name", "email", "payment_card"),
		accounts(12, levelConfirmed, "DE", "DE-BY", "name", "email"),
	)
	in.Delivery = Delivery{}
	in.Now = ts("2017-06-23T10:00:00+09:00")
	return in
}

// recorded is the record `report` makes of a report built from in.
func recorded(t testing.TB, kind string, in Input) store.ReportRecord {
	t.Helper()
	r, err := Build(kind, in)
	if err != nil {
		t.Fatal(err)
	}
	nums, err := r.NumbersJSON()
	if err != nil {
		t.Fatal(err)
	}
	return store.ReportRecord{CaseID: in.Case.ID, Kind: kind, Run: in.Run, Format: "md", GeneratedAt: in.Now, NumbersJSON: nums}
}

// TestRevisedReportsGolden: APPI's final report from run 2 after the
// preliminary one from run 1 (in Japanese, in items 2 and 3 and its own
// section), and the GDPR Art. 33(4) supplementary notification.
func TestRevisedReportsGolden(t *testing.T) {
	prev := map[string]string{"appi-final": "appi-preliminary", "gdpr-art33": "gdpr-art33", "us-ca-ag": "us-ca-ag", "hipaa-hhs": "hipaa-hhs"}
	for _, kind := range []string{"appi-final", "gdpr-art33"} {
		t.Run(kind, func(t *testing.T) {
			in := fixture(t)
			in.Reports = []store.ReportRecord{recorded(t, prev[kind], run1(t))}
			r, err := Build(kind, in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Revision == nil {
				t.Fatal("no revision")
			}
			for _, f := range formats {
				golden.Check(t, filepath.Join("testdata", "revised-"+kind+"."+f.ext+".golden"), f.render(t, r))
			}
		})
	}
}

func TestRevisionJSON(t *testing.T) {
	in := fixture(t)
	in.Reports = []store.ReportRecord{recorded(t, "appi-preliminary", run1(t))}
	r, err := Build("appi-final", in)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Revision struct {
			Previous map[string]any `json:"previous"`
			Changes  []Change       `json:"changes"`
		} `json:"revision"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	wantPrev := map[string]any{"kind": "appi-preliminary", "run": 1.0, "generated_at": "2017-06-23T01:00:00Z"}
	if !reflect.DeepEqual(doc.Revision.Previous, wantPrev) {
		t.Errorf("previous = %v, want %v", doc.Revision.Previous, wantPrev)
	}
	// run 1: 12 confirmed, 1,550 possible, 1,562 in all; run 2: 262, 1,525, 1,787.
	want := []Change{
		{"people.confirmed", 12, 262}, {"people.possible", 1550, 1525}, {"people.total", 1562, 1787},
		{"by_category.name", 1562, 1787}, {"by_category.email", 1412, 1532}, {"by_category.phone", 1150, 1180},
		{"by_category.postal_address", 1150, 1180}, {"by_category.bank_account", 150, 180}, {"by_category.payment_card", 400, 560},
		{"by_category.health", 0, 30},
		{"by_region.FR", 0, 5}, {"by_region.JP-13", 1000, 1040}, {"by_region.JP-27", 150, 180}, {"by_region.US-CA", 400, 520}, {"by_region.US-TX", 0, 30},
	}
	if !reflect.DeepEqual(doc.Revision.Changes, want) {
		t.Errorf("changes =\n%v\nwant\n%v", doc.Revision.Changes, want)
	}
}

// TestRevisionWhen: which earlier report a report revises, if any.
func TestRevisionWhen(t *testing.T) {
	at := func(kind string, run int) store.ReportRecord {
		in := run1(t)
		in.Run = run
		return recorded(t, kind, in)
	}
	tests := []struct {
		name    string
		kind    string
		reports []store.ReportRecord
		want    *Previous // nil: no revision
	}{
		{"nothing recorded", "appi-final", nil, nil},
		{"final after preliminary", "appi-final", []store.ReportRecord{at("appi-preliminary", 1)}, &Previous{Kind: "appi-preliminary", Run: 1}},
		{"final after final", "appi-final", []store.ReportRecord{at("appi-preliminary", 1), at("appi-final", 1)}, &Previous{Kind: "appi-final", Run: 1}},
		{"same run is no revision", "appi-final", []store.ReportRecord{at("appi-preliminary", 2)}, nil},
		{"same run again skips to the earlier run", "gdpr-art33", []store.ReportRecord{at("gdpr-art33", 1), at("gdpr-art33", 2)}, &Previous{Kind: "gdpr-art33", Run: 1}},
		{"another family is no revision", "gdpr-art33", []store.ReportRecord{at("appi-preliminary", 1), at("us-ca-ag", 1)}, nil},
		{"preliminary does not follow a final", "appi-preliminary", []store.ReportRecord{at("appi-final", 1)}, nil},
		{"California", "us-ca-ag", []store.ReportRecord{at("us-ca-ag", 1)}, &Previous{Kind: "us-ca-ag", Run: 1}},
		{"HIPAA", "hipaa-hhs", []store.ReportRecord{at("hipaa-hhs", 3)}, &Previous{Kind: "hipaa-hhs", Run: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture(t)
			in.Reports = tc.reports
			r, err := Build(tc.kind, in)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tc.want == nil && r.Revision != nil:
				t.Errorf("revision of %+v, want none", r.Revision.Previous)
			case tc.want != nil && r.Revision == nil:
				t.Errorf("no revision, want one of %+v", *tc.want)
			case tc.want != nil && (r.Revision.Previous.Kind != tc.want.Kind || r.Revision.Previous.Run != tc.want.Run):
				t.Errorf("revision of %+v, want %+v", r.Revision.Previous, *tc.want)
			}
		})
	}
}

// TestRevisionMarkings: each kind says it revises an earlier report, in
// every format; a revision with no changed figure says so.
func TestRevisionMarkings(t *testing.T) {
	marks := map[string][]string{
		"appi-preliminary": {"前回の報告", "## 前回報告からの変更", "速報（2017年6月23日 10:00 JST作成、第1回集計）"},
		"appi-final":       {"前回の報告", "## 前回報告からの変更", "| 本人の数（合計） | 1,562 | 1,787 |"},
		"gdpr-art33":       {"# Supplementary personal data breach notification", "Art. 33(4)", "## Changes since the previous report", "| People, total | 1,562 | 1,787 |"},
		"us-ca-ag":         {"# Notice of Data Breach", "Updated sample notice", "Updated: it replaces the sample notice of 2017-06-23 10:00 JST (run 1)"},
		"hipaa-hhs":        {"Addendum to the breach report to HHS of 2017-06-23 10:00 JST (run 1)", "| Data category: Health information | 0 | 30 |"},
	}
	for kind, want := range marks {
		t.Run(kind, func(t *testing.T) {
			in := fixture(t)
			in.Reports = []store.ReportRecord{recorded(t, families[kind][0], run1(t))}
			r, err := Build(kind, in)
			if err != nil {
				t.Fatal(err)
			}
			md := string(formats[0].render(t, r))
			for _, s := range want {
				if !strings.Contains(md, s) {
					t.Errorf("Markdown lacks %q", s)
				}
			}
			html := string(formats[1].render(t, r))
			if !strings.Contains(html, htmlLabels[r.Language]["revision"]) || !strings.Contains(html, "1,787") {
				t.Errorf("HTML lacks the changes section")
			}
		})
	}

	// The same numbers from another run: a revision with nothing changed.
	in := fixture(t)
	same := fixture(t)
	same.Run = 1
	in.Reports = []store.ReportRecord{recorded(t, "gdpr-art33", same)}
	r, err := Build("gdpr-art33", in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Revision == nil || len(r.Revision.Changes) != 0 {
		t.Fatalf("revision = %+v, want one with no changes", r.Revision)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"changes": []`) {
		t.Errorf("JSON changes not an empty list:\n%s", b.String())
	}
	if md := string(formats[0].render(t, r)); !strings.Contains(md, "No figure changed.") {
		t.Errorf("Markdown lacks \"No figure changed.\"")
	}
}

func TestRevisionUnreadableNumbers(t *testing.T) {
	in := fixture(t)
	in.Reports = []store.ReportRecord{{No: 7, Kind: "gdpr-art33", Run: 1, GeneratedAt: time.Now(), NumbersJSON: json.RawMessage(`{"people": 3}`)}}
	_, err := Build("gdpr-art33", in)
	if err == nil || !strings.Contains(err.Error(), "report 7 (gdpr-art33, run 1)") {
		t.Fatalf("err = %v, want one naming report 7", err)
	}
}

// TestRevisedNoPersonalData: a revised report holds counts only.
func TestRevisedNoPersonalData(t *testing.T) {
	in := fixture(t)
	in1 := run1(t)
	for _, kind := range Kinds {
		in.Reports = []store.ReportRecord{recorded(t, families[kind][0], in1)}
		r, err := Build(kind, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range formats {
			out := string(f.render(t, r))
			if strings.Contains(out, "uid-q7x") { // every fixture user id starts so
				t.Errorf("%s %s contains a user id", kind, f.ext)
			}
		}
	}
}
