package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// Revision says which figures of a report changed since the previous report
// of its family, written from another run: APPI's final report after the
// preliminary one, a GDPR Art. 33(4) supplementary notification, an updated
// California sample notice, an HHS addendum. Counts only.
type Revision struct {
	Previous Previous
	Changes  []Change // empty when no figure changed
}

// Previous is the earlier report a revision follows.
type Previous struct {
	Kind        string
	Run         int
	GeneratedAt time.Time
}

// Change is one figure of the report's numbers and its earlier and new
// values. Figure is "people.confirmed", "people.possible", "people.total",
// "by_category.<category>" or "by_region.<region>"; a category or region
// absent from one of the two reports counts as 0 there.
type Change struct {
	Figure string `json:"figure"`
	From   int    `json:"from"`
	To     int    `json:"to"`
}

// families: the earlier report kinds a report of a kind revises. APPI's
// final report follows the preliminary one (or an earlier final one); a
// preliminary report written again from another run revises the earlier
// preliminary report.
var families = map[string][]string{
	"appi-preliminary":     {"appi-preliminary"},
	"appi-final":           {"appi-preliminary", "appi-final"},
	"gdpr-art33":           {"gdpr-art33"},
	"us-ca-ag":             {"us-ca-ag"},
	"hipaa-hhs":            {"hipaa-hhs"},
	"uk-ico":               {"uk-ico"},
	"sec-8k":               {"sec-8k"},
	"au-oaic":              {"au-oaic"},
	"kr-pipc":              {"kr-pipc"},
	"br-anpd":              {"br-anpd"},
	"substitute-notice":    {"substitute-notice"},
	"substitute-notice-ja": {"substitute-notice-ja"},
}

// previousReport is the newest recorded report of the kind's family written
// from another run than this one, or nil. A report written again from the
// same run (another format, a later date) is not a revision of it.
func previousReport(kind string, in Input) *store.ReportRecord {
	fam := families[kind]
	for i := len(in.Reports) - 1; i >= 0; i-- {
		rec := &in.Reports[i]
		if rec.Run == in.Run {
			continue
		}
		for _, k := range fam {
			if rec.Kind == k {
				return rec
			}
		}
	}
	return nil
}

// revisionOf compares the report's numbers with the previous report's.
func revisionOf(kind string, in Input, now Numbers) (*Revision, error) {
	rec := previousReport(kind, in)
	if rec == nil {
		return nil, nil
	}
	var old Numbers
	if err := json.Unmarshal(rec.NumbersJSON, &old); err != nil {
		return nil, fmt.Errorf("report %d (%s, run %d) recorded in the case database has unreadable numbers (%v); delete that row from breachctl.reports or write the report again from run %d",
			rec.No, rec.Kind, rec.Run, err, rec.Run)
	}
	rv := &Revision{Previous: Previous{Kind: rec.Kind, Run: rec.Run, GeneratedAt: rec.GeneratedAt}, Changes: []Change{}}
	add := func(figure string, from, to int) {
		if from != to {
			rv.Changes = append(rv.Changes, Change{Figure: figure, From: from, To: to})
		}
	}
	add("people.confirmed", old.People.Confirmed, now.People.Confirmed)
	add("people.possible", old.People.Possible, now.People.Possible)
	add("people.total", old.People.Total, now.People.Total)
	cats := map[incident.Category]int{}
	for k := range old.ByCategory {
		cats[incident.Category(k)] = 1
	}
	for k := range now.ByCategory {
		cats[incident.Category(k)] = 1
	}
	for _, c := range sortedCategories(cats) {
		add("by_category."+string(c), old.ByCategory[string(c)], now.ByCategory[string(c)])
	}
	regions := map[string]bool{}
	for k := range old.ByRegion {
		regions[k] = true
	}
	for k := range now.ByRegion {
		regions[k] = true
	}
	for _, k := range sortedKeys(regions) {
		add("by_region."+k, old.ByRegion[k], now.ByRegion[k])
	}
	return rv, nil
}

// kindNames name report kinds in a sentence.
var kindNames = map[string]map[string]string{
	"ja": {"appi-preliminary": "速報", "appi-final": "確報", "gdpr-art33": "GDPR第33条に基づく通知",
		"us-ca-ag": "カリフォルニア州司法長官への通知見本", "hipaa-hhs": "HHSへの報告", "substitute-notice-ja": "公表文"},
	"ko":    {"kr-pipc": "개인정보 유출등 신고"},
	"pt-BR": {"br-anpd": "comunicação à ANPD"},
	"en": {"appi-preliminary": "APPI preliminary report", "appi-final": "APPI final report",
		"gdpr-art33": "Art. 33 notification", "us-ca-ag": "sample notice", "hipaa-hhs": "breach report to HHS",
		"uk-ico": "report to the ICO", "sec-8k": "Form 8-K draft", "au-oaic": "statement to the OAIC",
		"substitute-notice": "public notice"},
}

// PreviousText names the earlier report: its kind, when it was written and
// from which run; "" when the report revises none.
func (r *Report) PreviousText() string {
	if r.Revision == nil {
		return ""
	}
	p := r.Revision.Previous
	name := kindNames[r.Language][p.Kind]
	if name == "" {
		name = p.Kind
	}
	switch r.Language {
	case "ja":
		return fmt.Sprintf("%s（%s作成、第%d回集計）", name, stamp("ja", p.GeneratedAt, r.loc), p.Run)
	case "ko":
		return fmt.Sprintf("%s(%s 작성, 제%d차 집계)", name, stamp("ko", p.GeneratedAt, r.loc), p.Run)
	case "pt-BR":
		return fmt.Sprintf("a %s de %s (execução %d)", name, stamp("pt-BR", p.GeneratedAt, r.loc), p.Run)
	}
	return fmt.Sprintf("the %s of %s (run %d)", name, stamp("en", p.GeneratedAt, r.loc), p.Run)
}

// previousRef names the earlier report inside an item: "前回報告（速報、
// 2017年6月23日 10:00 JST作成、第1回集計）", "the Art. 33 notification of
// 2017-06-23 10:00 JST (run 1)".
func (r *Report) previousRef() string {
	if r.Language != "ja" || r.Revision == nil {
		return r.PreviousText()
	}
	p := r.Revision.Previous
	return fmt.Sprintf("前回報告（%s、%s作成、第%d回集計）", kindNames["ja"][p.Kind], stamp("ja", p.GeneratedAt, r.loc), p.Run)
}

// ChangeRow is a changed figure for the templates.
type ChangeRow struct {
	Label    string // in the report's language; a region as it came from the user records
	From, To string // formatted counts
}

// ChangeRows lists the changed figures with labels in the report's language.
func (r *Report) ChangeRows() []ChangeRow {
	if r.Revision == nil {
		return nil
	}
	rows := make([]ChangeRow, 0, len(r.Revision.Changes))
	for _, c := range r.Revision.Changes {
		rows = append(rows, ChangeRow{Label: figureLabel(r.Language, c.Figure), From: num(c.From), To: num(c.To)})
	}
	return rows
}

// figureLabel names a figure for people.
func figureLabel(lang, figure string) string {
	w := figureWords[lang]
	if w == nil {
		w = figureWords["en"]
	}
	if l, ok := w[figure]; ok {
		return l
	}
	if c, ok := strings.CutPrefix(figure, "by_category."); ok {
		return w["by_category"] + categoryLabel(lang, incident.Category(c))
	}
	if reg, ok := strings.CutPrefix(figure, "by_region."); ok {
		return w["by_region"] + reg
	}
	return figure
}

// figureWords name the figures in each report language; "region" leads a
// region inside an item.
var figureWords = map[string]map[string]string{
	"en": {"people.total": "People, total", "people.confirmed": "People, confirmed", "people.possible": "People, possible",
		"by_category": "Data category: ", "by_region": "Region: ", "region": "Region "},
	"ja": {"people.total": "本人の数（合計）", "people.confirmed": "本人の数（漏えいを確認）", "people.possible": "本人の数（漏えいのおそれ）",
		"by_category": "個人データの項目: ", "by_region": "地域: ", "region": "地域 "},
	"ko": {"people.total": "정보주체 수(합계)", "people.confirmed": "정보주체 수(유출 확인)", "people.possible": "정보주체 수(유출 가능성)",
		"by_category": "개인정보 항목: ", "by_region": "지역: ", "region": "지역 "},
	"pt-BR": {"people.total": "Titulares, total", "people.confirmed": "Titulares, confirmados", "people.possible": "Titulares, possíveis",
		"by_category": "Categoria de dados: ", "by_region": "Região: ", "region": "Região "},
}

// changeLines lists the changes whose figure starts with one of prefixes as
// Markdown list items ("- label: from → to"), for an item's content.
func (r *Report) changeLines(prefixes ...string) []string {
	if r.Revision == nil {
		return nil
	}
	var out []string
	for _, c := range r.Revision.Changes {
		for _, p := range prefixes {
			if strings.HasPrefix(c.Figure, p) {
				label := figureLabel(r.Language, c.Figure)
				if cat, ok := strings.CutPrefix(c.Figure, "by_category."); ok {
					label = categoryLabel(r.Language, incident.Category(cat)) // the item is the data items
				} else if reg, ok := strings.CutPrefix(c.Figure, "by_region."); ok {
					w := figureWords[r.Language]
					if w == nil {
						w = figureWords["en"]
					}
					label = w["region"] + reg
				}
				out = append(out, fmt.Sprintf("- %s: %s → %s", textsafe.MD(label), people(r.Language, c.From), people(r.Language, c.To)))
				break
			}
		}
	}
	return out
}

type previousJSON struct {
	Kind        string `json:"kind"`
	Run         int    `json:"run"`
	GeneratedAt string `json:"generated_at"`
}

type revisionJSON struct {
	Previous previousJSON `json:"previous"`
	Changes  []Change     `json:"changes"`
}

func (rv *Revision) toJSON() *revisionJSON {
	if rv == nil {
		return nil
	}
	return &revisionJSON{Previous: previousJSON{Kind: rv.Previous.Kind, Run: rv.Previous.Run,
		GeneratedAt: rv.Previous.GeneratedAt.UTC().Format(time.RFC3339)}, Changes: rv.Changes}
}

// NumbersJSON is the report's "numbers" object as the case database records
// it (store.ReportRecord.NumbersJSON), for a later report to compare with.
func (r *Report) NumbersJSON() ([]byte, error) { return json.Marshal(r.Numbers) }
