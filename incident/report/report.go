// Package report decides which notification duties an incident triggers
// (Obligations) and writes the regulator reports (Build): APPI preliminary
// and final reports to the PPC, GDPR Art. 33, the California Attorney
// General's sample notice, the HIPAA notice to HHS, the UK ICO report, a
// draft SEC Form 8-K Item 1.05, the OAIC statement, the PIPC/KISA report
// (Korean) and the ANPD communication (Portuguese).
//
// Reports hold aggregates only: counts, categories, regions, dates and the
// case's own texts, never a user id, name or address. Each duty's clock
// runs from a case time (Obligation.Clock: discovered_at for most, the
// determination for some, never Input.Now); Input.Now only decides whether
// a deadline has passed. A report written from a later run than an earlier
// one of its family carries the Revision: which figures changed.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// Delivery summarises the notice delivery ledger; the zero value means
// nothing was sent yet.
type Delivery struct {
	Total, Sent, Failed, Pending, Uncertain int
	FirstSent, LastSent                     time.Time
}

// Input is everything obligations and reports are computed from.
type Input struct {
	Case     *incident.Case
	Run      int
	Affected []store.AffectedAccount
	Evidence []store.Evidence
	Delivery Delivery
	Now      time.Time // the clock: report date and due/overdue; never a deadline's start
	// TemplatesDir, when set, overrides embedded templates: a file there
	// with an embedded template's name replaces it.
	TemplatesDir string
	// Reports are the case's reports recorded before this one, oldest
	// first (store.Reports): a report of the same family written from
	// another run makes this one a revision of it.
	Reports []store.ReportRecord
	// Determined is when the run's scope was determined: the run's own
	// determination (breachctl runs --determine), else the case file's
	// determined_at; zero when neither is recorded. DeterminedBy says
	// which ("run 2", "case file").
	Determined   time.Time
	DeterminedBy string
	// Updates are the people to send an update notice to (their exposure
	// grew since what they were told) and those already sent one; nil
	// when the case has no earlier run's notices to compare with.
	Updates *Updates
}

// Kinds lists the report kinds Build accepts.
var Kinds = []string{"appi-preliminary", "appi-final", "gdpr-art33", "us-ca-ag", "hipaa-hhs", "uk-ico", "sec-8k", "au-oaic", "kr-pipc", "br-anpd", "substitute-notice", "substitute-notice-ja"}

// Report is one regulator report: the law's items, in the law's order, each
// filled from the case or marked not yet known.
type Report struct {
	Kind        string
	Language    string // "ja" or "en"
	Title       string
	CaseID      string
	CaseTitle   string
	Run         int
	GeneratedAt time.Time
	Meta        []Field  // header lines: who reports, dates, deadline
	Notes       []string // what to check before filing (not part of the law's items)
	Items       []Item
	Numbers     Numbers
	Evidence    []EvidenceFile
	// Revision is set when the report follows one of its family written
	// from another run: which figures changed and from what.
	Revision *Revision

	loc *time.Location
	set *templateSet
}

// Field is one labelled header line.
type Field struct{ Label, Value string }

// Item is one item of the law's list. Known is false when the case cannot
// fill it yet; Content then says so.
type Item struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Content string `json:"content"`
	Known   bool   `json:"known"`
}

// Numbers are the run's counts of people.
type Numbers struct {
	People     People         `json:"people"`
	ByCategory map[string]int `json:"by_category"`
	ByRegion   map[string]int `json:"by_region"`
}

// People counts affected people by level.
type People struct {
	Confirmed int `json:"confirmed"`
	Possible  int `json:"possible"`
	Total     int `json:"total"`
}

// EvidenceFile is an input file of the run and its SHA-256.
type EvidenceFile struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Row is a labelled count for the templates.
type Row struct {
	Key, Label string
	People     int
}

// builder fills a report's title, meta and items.
type builder func(r *Report, in Input)

var builders = map[string]builder{
	"appi-preliminary":     func(r *Report, in Input) { buildAPPI(r, in, false) },
	"appi-final":           func(r *Report, in Input) { buildAPPI(r, in, true) },
	"gdpr-art33":           buildGDPR,
	"us-ca-ag":             buildUSCA,
	"hipaa-hhs":            buildHIPAA,
	"uk-ico":               buildUKICO,
	"sec-8k":               buildSEC8K,
	"au-oaic":              buildAUOAIC,
	"kr-pipc":              buildKRPIPC,
	"br-anpd":              buildBRANPD,
	"substitute-notice":    buildSubstitute,
	"substitute-notice-ja": buildSubstituteJA,
}

var languages = map[string]string{"appi-preliminary": "ja", "appi-final": "ja", "kr-pipc": "ko", "br-anpd": "pt-BR", "substitute-notice-ja": "ja"}

// Build assembles the report of a kind (one of Kinds) from the input.
func Build(kind string, in Input) (*Report, error) {
	b, ok := builders[kind]
	if !ok {
		return nil, fmt.Errorf("unknown report kind %q; valid kinds: %s", kind, strings.Join(Kinds, ", "))
	}
	if in.Case == nil {
		return nil, errors.New("report: no case")
	}
	set, err := loadTemplates(in.TemplatesDir)
	if err != nil {
		return nil, err
	}
	lang := languages[kind]
	if lang == "" {
		lang = "en"
	}
	all := tallyOf(in.Affected, nil)
	r := &Report{Kind: kind, Language: lang, CaseID: in.Case.ID, CaseTitle: in.Case.Title, Run: in.Run,
		GeneratedAt: in.Now, loc: caseLoc(in.Case), set: set,
		Numbers: Numbers{People: People{Confirmed: all.Confirmed, Possible: all.Possible, Total: all.People},
			ByCategory: map[string]int{}, ByRegion: all.ByRegion},
		Evidence: []EvidenceFile{}}
	for c, n := range all.ByCategory {
		r.Numbers.ByCategory[string(c)] = n
	}
	for _, e := range in.Evidence {
		r.Evidence = append(r.Evidence, EvidenceFile{Path: e.Path, SHA256: e.SHA256})
	}
	rv, err := revisionOf(kind, in, r.Numbers)
	if err != nil {
		return nil, err
	}
	r.Revision = rv
	b(r, in)
	return r, nil
}

// Generated is the report's date for people.
func (r *Report) Generated() string { return stamp(r.Language, r.GeneratedAt, r.loc) }

// Categories lists by_category in vocabulary order, with labels.
func (r *Report) Categories() []Row {
	m := map[incident.Category]int{}
	for k, v := range r.Numbers.ByCategory {
		m[incident.Category(k)] = v
	}
	var rows []Row
	for _, c := range sortedCategories(m) {
		rows = append(rows, Row{Key: string(c), Label: categoryLabel(r.Language, c), People: m[c]})
	}
	return rows
}

// Regions lists by_region, largest first.
func (r *Report) Regions() []Row {
	var rows []Row
	for _, kc := range sortedCounts(r.Numbers.ByRegion) {
		rows = append(rows, Row{Key: kc.Key, Label: kc.Key, People: kc.Count})
	}
	return rows
}

// Unknown lists the ids of the items not yet known.
func (r *Report) Unknown() []string {
	var ids []string
	for _, it := range r.Items {
		if !it.Known {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

type reportJSON struct {
	Kind        string         `json:"kind"`
	Case        string         `json:"case"`
	Run         int            `json:"run"`
	GeneratedAt string         `json:"generated_at"`
	Language    string         `json:"language"`
	Items       []Item         `json:"items"`
	Numbers     Numbers        `json:"numbers"`
	Evidence    []EvidenceFile `json:"evidence"`
	Revision    *revisionJSON  `json:"revision,omitempty"`
}

// WriteJSON writes the report in DESIGN.md's JSON shape.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(reportJSON{Kind: r.Kind, Case: r.CaseID, Run: r.Run, GeneratedAt: r.GeneratedAt.UTC().Format(time.RFC3339),
		Language: r.Language, Items: r.Items, Numbers: r.Numbers, Evidence: r.Evidence, Revision: r.Revision.toJSON()})
}

// WriteMarkdown writes the report as Markdown, from the kind's template.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b bytes.Buffer
	if err := r.set.md.ExecuteTemplate(&b, mdTemplates[r.Kind], r); err != nil {
		return fmt.Errorf("render %s report: %w", r.Kind, err)
	}
	// The template escapes the values that come from outside; what it
	// cannot tell apart (the case file's own texts) still gets no raw
	// control byte or bidi override through to a terminal that shows it.
	_, err := io.WriteString(w, textsafe.Block(b.String()))
	return err
}

// WriteHTML writes the report as one self-contained HTML page (inline CSS,
// no external assets).
func (r *Report) WriteHTML(w io.Writer) error {
	var b bytes.Buffer
	if err := r.set.html.ExecuteTemplate(&b, htmlTemplate, htmlData{R: r, L: htmlLabels[r.Language]}); err != nil {
		return fmt.Errorf("render %s report as HTML: %w", r.Kind, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

type htmlData struct {
	R *Report
	L map[string]string
}

var htmlLabels = map[string]map[string]string{
	"en": {"case": "Case", "run": "Run", "generated": "Generated", "items": "Items", "unknown": "not yet known",
		"numbers": "Numbers", "people": "People", "confirmed": "confirmed", "possible": "possible", "total": "total",
		"category": "Data category", "region": "Region", "evidence": "Evidence", "file": "File", "notes": "Before filing",
		"aggregates": "Aggregates only: this report holds no personal data.",
		"revision":   "Changes since the previous report", "figure": "Figure", "before": "Previous report", "after": "This report",
		"previous": "Previous report", "nochange": "No figure changed."},
	"ja": {"case": "事案ID", "run": "集計回", "generated": "作成日時", "items": "報告事項", "unknown": "未確定",
		"numbers": "人数", "people": "本人の数", "confirmed": "漏えいを確認", "possible": "漏えいのおそれ", "total": "合計",
		"category": "個人データの項目", "region": "地域", "evidence": "証跡", "file": "ファイル", "notes": "提出前の確認事項",
		"aggregates": "本報告書には集計値のみを記載し、個人を特定できる情報は含みません。",
		"revision":   "前回報告からの変更", "figure": "項目", "before": "前回報告", "after": "本報告",
		"previous": "前回の報告", "nochange": "変更された数値はありません。"},
	"ko": {"case": "사건 ID", "run": "집계 회차", "generated": "작성 일시", "items": "신고 사항", "unknown": "현재 확인되지 않음",
		"numbers": "정보주체 수", "people": "정보주체 수", "confirmed": "유출 확인", "possible": "유출 가능성", "total": "합계",
		"category": "개인정보 항목", "region": "지역", "evidence": "증거 자료", "file": "파일", "notes": "제출 전 확인 사항",
		"aggregates": "이 신고서에는 집계값만 기재하며, 개인을 식별할 수 있는 정보는 포함하지 않습니다.",
		"revision":   "이전 신고 이후 변경 사항", "figure": "항목", "before": "이전 신고", "after": "이번 신고",
		"previous": "이전 신고", "nochange": "변경된 수치가 없습니다."},
	"pt-BR": {"case": "Caso", "run": "Execução", "generated": "Gerado em", "items": "Itens", "unknown": "ainda não conhecido",
		"numbers": "Números", "people": "Titulares", "confirmed": "confirmados", "possible": "possíveis", "total": "total",
		"category": "Categoria de dados", "region": "Região", "evidence": "Evidências", "file": "Arquivo", "notes": "Antes de enviar",
		"aggregates": "Somente dados agregados: esta comunicação não contém dados pessoais.",
		"revision":   "Alterações desde a comunicação anterior", "figure": "Número", "before": "Comunicação anterior", "after": "Esta comunicação",
		"previous": "Comunicação anterior", "nochange": "Nenhum número foi alterado."},
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// addItem appends an item of the law's list; one the case cannot fill
// (known false) leads with unknownText ("Not yet known.") instead of
// being left out.
func (r *Report) addItem(id, title, content string, known bool, unknownText string) {
	if !known {
		if content == "" {
			content = unknownText
		} else {
			content = unknownText + "\n\n" + content
		}
	}
	r.Items = append(r.Items, Item{ID: id, Title: title, Content: content, Known: known})
}
