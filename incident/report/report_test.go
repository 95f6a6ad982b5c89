package report

import (
	"bytes"
	"encoding/json"
	"github.com/breachctl/breachctl/incident"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
	"github.com/breachctl/breachctl/templates"
)

// fixture is a run of the 2017 case with people in Japan, California,
// Texas (health data), Germany and France, half-way through sending.
func fixture(t testing.TB) Input {
	t.Helper()
	return Input{
		Case: loadCase(t),
		Run:  2,
		Affected: join(
			accounts(1000, levelPossible, "JP", "JP-13", "name", "email", "postal_address", "phone"),
			accounts(180, levelConfirmed, "JP", "JP-27", "name", "postal_address", "phone", "bank_account"),
			accounts(40, levelConfirmed, "JP", "JP-13", "name", "payment_card"),
			accounts(520, levelPossible, "US", "US-CA", "name", "email", "payment_card"),
			accounts(30, levelConfirmed, "US", "US-TX", "name", "health"),
			accounts(12, levelConfirmed, "DE", "DE-BY", "name", "email"),
			accounts(5, levelPossible, "FR", "", "name"),
		),
		Evidence: []store.Evidence{
			{Path: "logs/cdn/edge-nrt-20170622.log.gz", SHA256: "3b6f1c0e5d2a4f8b9c7e1a0d6b5c4f3e2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d"},
			{Path: "logs/cdn/edge-kix-20170622.log.gz", SHA256: "9d8e7f6a5b4c3d2e1f0a9b8c7d3b6f1c0e5d2a4f8b9c7e1a0d6b5c4f3e2a1b0c"},
		},
		Delivery: Delivery{Total: 1787, Sent: 1200, Failed: 3, Pending: 584,
			FirstSent: ts("2017-06-24T09:00:00+09:00"), LastSent: ts("2017-06-24T18:00:00+09:00")},
		Now: ts("2017-06-26T10:00:00+09:00"),
	}
}

func TestReportsGolden(t *testing.T) {
	in := fixture(t)
	for _, kind := range Kinds {
		if intlGolden[kind] != nil {
			continue // TestIntlReportsGolden, from a run with people in their countries
		}
		if strings.HasPrefix(kind, "substitute-notice") {
			continue // TestSubstituteNotice: a Markdown golden
		}
		t.Run(kind, func(t *testing.T) {
			r, err := Build(kind, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range formats {
				golden.Check(t, filepath.Join("testdata", kind+"."+f.ext+".golden"), f.render(t, r))
			}
		})
	}
}

type format struct {
	ext   string
	write func(r *Report, b *bytes.Buffer) error
}

// render writes r in this format, failing the test on an error.
func (f format) render(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f.write(r, &b); err != nil {
		t.Fatalf("%s %s: %v", r.Kind, f.ext, err)
	}
	return b.Bytes()
}

var formats = []format{
	{"md", func(r *Report, b *bytes.Buffer) error { return r.WriteMarkdown(b) }},
	{"html", func(r *Report, b *bytes.Buffer) error { return r.WriteHTML(b) }},
	{"json", func(r *Report, b *bytes.Buffer) error { return r.WriteJSON(b) }},
}

// TestNoPersonalData: no user id of the input appears in any rendered
// report, in any format, before or after notices are sent.
func TestNoPersonalData(t *testing.T) {
	in := fixture(t)
	ids := map[string]bool{}
	for _, a := range in.Affected {
		ids[a.UserID] = true
	}
	idLike := regexp.MustCompile(`uid-q7x\d+`)
	for _, d := range []Delivery{{}, in.Delivery} {
		in.Delivery = d
		for _, kind := range Kinds {
			r, err := Build(kind, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range formats {
				out := string(f.render(t, r))
				for _, m := range idLike.FindAllString(out, -1) {
					t.Errorf("%s %s contains user id %s (known: %v)", kind, f.ext, m, ids[m])
				}
				for id := range ids {
					if strings.Contains(out, id) {
						t.Fatalf("%s %s contains user id %s", kind, f.ext, id)
					}
				}
			}
		}
	}
}

func TestReportJSONShape(t *testing.T) {
	in := fixture(t)
	wantIDs := map[string][]string{
		"appi-preliminary":     {"1", "2", "3", "4", "5", "6", "7", "8", "9"},
		"appi-final":           {"1", "2", "3", "4", "5", "6", "7", "8", "9"},
		"gdpr-art33":           {"a", "b", "c", "d"},
		"us-ca-ag":             {"what_happened", "what_information", "what_we_are_doing", "what_you_can_do", "more_information"},
		"hipaa-hhs":            {"entity", "breach_dates", "discovery_date", "individuals_affected", "type_of_breach", "location", "phi_involved", "description", "safeguards", "notice_dates", "actions_taken"},
		"substitute-notice":    {"what_happened", "what_information", "how_many", "what_we_are_doing", "what_you_can_do", "more_information", "posting_period", "press_release"},
		"substitute-notice-ja": {"what_happened", "what_information", "how_many", "what_we_are_doing", "what_you_can_do", "more_information", "posting_period", "press_release"},
	}
	for kind, req := range requiredItems {
		for _, it := range req {
			wantIDs[kind] = append(wantIDs[kind], it.id)
		}
	}
	for _, kind := range Kinds {
		r, err := Build(kind, in)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if got, want := sortedKeys(doc), []string{"case", "evidence", "generated_at", "items", "kind", "language", "numbers", "run"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s keys = %v, want %v", kind, got, want)
		}
		var body struct {
			Kind, Case, Language string
			Run                  int
			Items                []map[string]any
			Numbers              struct {
				People     map[string]int `json:"people"`
				ByCategory map[string]int `json:"by_category"`
				ByRegion   map[string]int `json:"by_region"`
			}
			Evidence []map[string]string
		}
		if err := json.Unmarshal(b.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range body.Items {
			ids = append(ids, it["id"].(string))
			for _, k := range []string{"id", "title", "content", "known"} {
				if _, ok := it[k]; !ok {
					t.Errorf("%s item %v lacks %q", kind, it["id"], k)
				}
			}
			if s, _ := it["content"].(string); strings.TrimSpace(s) == "" {
				t.Errorf("%s item %v is empty", kind, it["id"])
			}
		}
		if !reflect.DeepEqual(ids, wantIDs[kind]) {
			t.Errorf("%s item ids = %v, want %v", kind, ids, wantIDs[kind])
		}
		if body.Kind != kind || body.Case != "web-cache-2017-06" || body.Run != 2 {
			t.Errorf("%s header = %s %s %d", kind, body.Kind, body.Case, body.Run)
		}
		wantLang := "en"
		if l := languages[kind]; l != "" {
			wantLang = l
		}
		if body.Language != wantLang {
			t.Errorf("%s language = %s, want %s", kind, body.Language, wantLang)
		}
		if p := body.Numbers.People; p["total"] != 1787 || p["confirmed"] != 262 || p["possible"] != 1525 {
			t.Errorf("%s people = %v", kind, p)
		}
		if body.Numbers.ByCategory["name"] != 1787 || body.Numbers.ByCategory["health"] != 30 || body.Numbers.ByRegion["US-CA"] != 520 || body.Numbers.ByRegion["FR"] != 5 {
			t.Errorf("%s numbers = %+v", kind, body.Numbers)
		}
		if strings.HasPrefix(kind, "substitute-notice") { // public: no evidence file listed
			if len(body.Evidence) != 0 {
				t.Errorf("%s evidence = %v, want none", kind, body.Evidence)
			}
		} else if len(body.Evidence) != 2 || body.Evidence[0]["sha256"] != in.Evidence[0].SHA256 || body.Evidence[0]["path"] != in.Evidence[0].Path {
			t.Errorf("%s evidence = %v", kind, body.Evidence)
		}
	}
}

// TestAPPITitles: the nine items of Rules Art. 8(1), worded as REGULATIONS.md.
func TestAPPITitles(t *testing.T) {
	want := []string{"概要", "漏えい等が発生し、又は発生したおそれがある個人データの項目", "本人の数", "原因",
		"二次被害又はそのおそれの有無及びその内容", "本人への対応の実施状況", "公表の実施状況", "再発防止のための措置", "その他参考となる事項"}
	for _, kind := range []string{"appi-preliminary", "appi-final"} {
		r, err := Build(kind, fixture(t))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range r.Items {
			got = append(got, it.Title)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s titles = %q, want %q", kind, got, want)
		}
	}
}

// TestUnknownItems: an item the case cannot fill is listed, marked
// known=false, and says so.
func TestUnknownItems(t *testing.T) {
	in := fixture(t)
	in.Delivery = Delivery{}
	in.Case.Narrative.Cause, in.Case.Narrative.Measures, in.Case.Narrative.Consequences = "", "", ""
	in.Case.Notify.Narrative = nil
	tests := []struct {
		kind    string
		unknown []string
		marker  string
	}{
		{"appi-preliminary", []string{"4", "5", "6", "7", "8"}, "現時点では不明"},
		{"appi-final", []string{"4", "5", "6", "7", "8"}, "現時点では不明"},
		{"gdpr-art33", []string{"c", "d"}, "Not yet known"},
		{"us-ca-ag", []string{"what_happened", "what_we_are_doing"}, "Not yet known"},
		{"hipaa-hhs", []string{"description", "safeguards", "notice_dates", "actions_taken"}, "Not yet known"},
	}
	for _, tc := range tests {
		r, err := Build(tc.kind, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Unknown(); !reflect.DeepEqual(got, tc.unknown) {
			t.Errorf("%s unknown items = %v, want %v", tc.kind, got, tc.unknown)
		}
		for _, it := range r.Items {
			if !it.Known && !strings.HasPrefix(it.Content, tc.marker) {
				t.Errorf("%s item %s is unknown but says %q", tc.kind, it.ID, it.Content)
			}
		}
	}
	// With everything filled, only the public announcement (no field for it)
	// and HIPAA's safeguards stay unknown.
	full := fixture(t)
	for kind, want := range map[string][]string{"appi-final": {"7"}, "appi-preliminary": {"7"}, "gdpr-art33": nil, "us-ca-ag": nil, "hipaa-hhs": {"safeguards"}} {
		r, err := Build(kind, full)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Unknown(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s (filled) unknown items = %v, want %v", kind, got, want)
		}
	}
}

func TestBuildUnknownKind(t *testing.T) {
	_, err := Build("appi", fixture(t))
	if err == nil {
		t.Fatal("Build(appi) = nil error")
	}
	for _, k := range Kinds {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not list %s", err, k)
		}
	}
}

// TestTemplateFiles: every report template in templates/ is read by a
// report, and every template a report reads exists.
func TestTemplateFiles(t *testing.T) {
	present, err := fs.Glob(templates.FS, "report*.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(present)
	if got := TemplateNames(); !reflect.DeepEqual(present, got) {
		t.Errorf("templates/report*.tmpl = %v, reports read %v: remove the unused file or wire it, or add the missing one", present, got)
	}
	for _, kind := range Kinds {
		if mdTemplates[kind] == "" {
			t.Errorf("kind %s has no Markdown template", kind)
		}
	}
	if _, err := embeddedSet(); err != nil {
		t.Fatal(err)
	}
	// Every shared block is used by some template.
	var all strings.Builder
	for _, n := range present {
		b, _ := fs.ReadFile(templates.FS, n)
		all.Write(b)
	}
	for _, m := range regexp.MustCompile(`\{\{define "([^"]+)"\}\}`).FindAllStringSubmatch(all.String(), -1) {
		if !strings.Contains(all.String(), `{{template "`+m[1]+`"`) {
			t.Errorf("block %q is defined but never used", m[1])
		}
	}
}

func TestTemplateMissing(t *testing.T) {
	m := fstest.MapFS{}
	for _, n := range TemplateNames() {
		b, err := fs.ReadFile(templates.FS, n)
		if err != nil {
			t.Fatal(err)
		}
		m[n] = &fstest.MapFile{Data: b}
	}
	if _, err := parseTemplates(m, ""); err != nil {
		t.Fatalf("complete set: %v", err)
	}
	for _, n := range TemplateNames() {
		sub := fstest.MapFS{}
		for k, v := range m {
			if k != n {
				sub[k] = v
			}
		}
		if _, err := parseTemplates(sub, ""); err == nil || !strings.Contains(err.Error(), n) {
			t.Errorf("without %s: err = %v, want one naming it", n, err)
		}
	}
}

func TestTemplatesDirOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "report_gdpr_en.md.tmpl"), []byte("OVERRIDE {{.Kind}} {{num .Numbers.People.Total}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A notice template in the same directory is not the reports' business.
	if err := os.WriteFile(filepath.Join(dir, "notice_ja.eml.tmpl"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	in := fixture(t)
	in.TemplatesDir = dir
	r, err := Build("gdpr-art33", in)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != "OVERRIDE gdpr-art33 1,787\n" {
		t.Errorf("override rendered %q", b.String())
	}
	// The other kinds keep the embedded templates.
	r, err = Build("us-ca-ag", in)
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if err := r.WriteMarkdown(&b); err != nil || !strings.HasPrefix(b.String(), "# Notice of Data Breach") {
		t.Errorf("us-ca-ag with an override dir = %q, %v", b.String(), err)
	}

	// A misspelt override is an error, not silently ignored.
	if err := os.WriteFile(filepath.Join(dir, "report_gdrp_en.md.tmpl"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Build("gdpr-art33", in); err == nil || !strings.Contains(err.Error(), "report_gdrp_en.md.tmpl") {
		t.Errorf("misspelt override: err = %v", err)
	}
	// A broken override is an error naming the file.
	os.Remove(filepath.Join(dir, "report_gdrp_en.md.tmpl"))
	if err := os.WriteFile(filepath.Join(dir, "report.html.tmpl"), []byte("{{.Nope"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Build("gdpr-art33", in); err == nil || !strings.Contains(err.Error(), "report.html.tmpl") {
		t.Errorf("broken override: err = %v", err)
	}
}

// TestHTMLSelfContained: no external asset, and case text is escaped.
func TestHTMLSelfContained(t *testing.T) {
	in := fixture(t)
	in.Case.Narrative.Cause = `<script>alert(1)</script>`
	r, err := Build("gdpr-art33", in)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	if strings.Contains(s, "<script>alert") {
		t.Error("case text is not escaped")
	}
	for _, bad := range []string{`src="http`, `href="http`, "<link", "@import", "url("} {
		if strings.Contains(s, bad) {
			t.Errorf("HTML references an external asset: %q", bad)
		}
	}
}

func TestAPPIPreliminaryVersusFinal(t *testing.T) {
	in := fixture(t)
	pre, err := Build("appi-preliminary", in)
	if err != nil {
		t.Fatal(err)
	}
	fin, err := Build("appi-final", in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(pre.Title, "速報") || !strings.Contains(fin.Title, "確報") {
		t.Errorf("titles %q, %q", pre.Title, fin.Title)
	}
	meta := func(r *Report, label string) string {
		for _, f := range r.Meta {
			if f.Label == label {
				return f.Value
			}
		}
		return ""
	}
	if got := meta(pre, "報告期限"); got != "2017年6月27日 00:00 JST まで" && got != "2017年6月27日 00:00 JSTまで" {
		t.Errorf("preliminary deadline = %q", got)
	}
	if got := meta(fin, "報告期限"); !strings.HasPrefix(got, "2017年7月22日 00:00 JST") {
		t.Errorf("final deadline = %q", got)
	}
	// Item 6 reflects the ledger.
	if it := pre.Items[5]; !it.Known || !strings.Contains(it.Content, "送信済み 1,200件") {
		t.Errorf("item 6 = %+v", it)
	}
}

// TestEmptyRun: a run with nobody affected still renders every kind, every
// item listed.
func TestEmptyRun(t *testing.T) {
	in := Input{Case: loadCase(t), Run: 1, Now: ts("2017-06-23T00:00:00Z")}
	for _, kind := range Kinds {
		r, err := Build(kind, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range formats {
			f.render(t, r)
		}
		if len(r.Items) == 0 || len(r.Notes) == 0 {
			t.Errorf("%s: %d items, notes %v", kind, len(r.Items), r.Notes)
		}
	}
	if obs := Obligations(in); len(obs) != 0 {
		t.Errorf("obligations of an empty run = %v", obs)
	}
	var b bytes.Buffer
	if err := WriteObligationsText(&b, nil, in.Now); err != nil || !strings.Contains(b.String(), "No notification duty") {
		t.Errorf("empty table = %q, %v", b.String(), err)
	}
}

// TestCALawEnforcementDelay: the California sample says whether notices
// were delayed by law enforcement when the case file states it.
func TestCALawEnforcementDelay(t *testing.T) {
	for setting, want := range map[string]string{
		"no":  "delayed by a law enforcement investigation? No.",
		"yes": "delayed by a law enforcement investigation? Yes, at a law enforcement agency's request.",
		"":    "delayed by a law enforcement investigation? Not yet known.",
	} {
		in := fixture(t)
		in.Case.Notify.LawEnforcementDelay = setting
		r, err := Build("us-ca-ag", in)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := r.WriteMarkdown(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("law_enforcement_delay %q: report lacks %q", setting, want)
		}
	}
}

// A case whose rules are not (only) the cache rule explains the levels in
// general words, not in a cache's; with unauthorized_access it is APPI case
// 3 (60 days for the final report), as before.
func TestLevelWordingFollowsRules(t *testing.T) {
	in := fixture(t)
	c := *in.Case
	c.CauseKind = "unauthorized_access"
	c.Exposure.Rules = append([]incident.Rule{}, c.Exposure.Rules...)
	c.Exposure.Rules = append(c.Exposure.Rules, incident.Rule{Kind: incident.RuleObject, Name: "enumeration"})
	in.Case = &c
	appi, err := Build("appi-final", in)
	if err != nil {
		t.Fatal(err)
	}
	if it := appi.Items[2]; strings.Contains(it.Content, "キャッシュ") || !strings.Contains(it.Content, "第三者に送信されたことがアクセスログで確認された方") {
		t.Errorf("APPI item 3 = %s", it.Content)
	}
	gdpr, err := Build("gdpr-art33", in)
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, it := range gdpr.Items {
		all += it.Content + "\n"
	}
	if strings.Contains(all, "CDN cache") || !strings.Contains(all, "the access logs prove the person's data was delivered to another party") {
		t.Errorf("GDPR items = %s", all)
	}
	// The cache-only fixture keeps its words.
	appi, _ = Build("appi-final", fixture(t))
	if !strings.Contains(appi.Items[2].Content, "キャッシュ") {
		t.Errorf("cache-only APPI item 3 lost its wording: %s", appi.Items[2].Content)
	}
}
