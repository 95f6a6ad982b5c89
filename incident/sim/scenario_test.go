package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.yaml.in/yaml/v3"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// scenarioCase is what each scenario must show in its truth.
var scenarioCases = []struct {
	scenario string
	rule     string
	formats  []string
	// nearMisses: a substring of a near miss's why that must occur.
	nearMisses []string
	// levels that must occur among the affected.
	levels    []string
	cause     string
	needEmpty bool // some event must have exposed nothing on file
}{
	{
		scenario: ScenarioEnumeration, rule: "enumeration",
		formats:    []string{FormatNginx, FormatCloudFront, FormatCloudflare, FormatJSONL},
		nearMisses: []string{"own data", "the attacker's own profile", "no such user (404)", "no such order (404)", "status 500", "before the window", "/profile/edit"},
		levels:     []string{levelConfirmed, levelPossible},
		cause:      "unauthorized_access",
	},
	{
		scenario: ScenarioMixup, rule: "mixup",
		formats:    []string{FormatNginx, FormatJSONL},
		nearMisses: []string{"public route", "status 500", "no subject", "before the window", "after the window"},
		levels:     []string{levelConfirmed},
		cause:      "misconfiguration",
		needEmpty:  true,
	},
	{
		scenario: ScenarioTakeover, rule: "takeover",
		formats:    []string{FormatNginx, FormatCloudFront, FormatCloudflare, FormatJSONL},
		nearMisses: []string{"never logs in", "below login.threshold", "before the window", "8 failed logins in the window", "public page", "customer's own login", "customer's failed login"},
		levels:     []string{levelConfirmed, levelPossible},
		cause:      "unauthorized_access",
	},
	{
		scenario: ScenarioBucket, rule: "bucket",
		formats:    []string{FormatNginx, FormatCloudFront, FormatCloudflare, FormatJSONL},
		nearMisses: []string{"owner's own download", "403 before the store was public", "no such key (404)"},
		levels:     []string{levelConfirmed},
		cause:      "misconfiguration",
	},
}

func readTruth(t *testing.T, path string) *scenarioTruth {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr scenarioTruth
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &tr
}

// readScenarioLogs returns every data line of the run's logs (CloudFront's header
// lines left out).
func readScenarioLogs(t *testing.T, out string, files []string) []string {
	t.Helper()
	var lines []string
	for _, f := range files {
		fh, err := os.Open(filepath.Join(out, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		var rd io.Reader = fh
		if strings.HasSuffix(f, ".gz") {
			if rd, err = gzip.NewReader(fh); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
		sc := bufio.NewScanner(rd)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if !strings.HasPrefix(sc.Text(), "#") {
				lines = append(lines, sc.Text())
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return lines
}

// checkDerived recomputes the affected list and the counts from the events
// and compares them with the truth's.
func checkDerived(t *testing.T, tr *scenarioTruth) {
	t.Helper()
	type person struct {
		level           string
		cats, confirmed map[string]bool
		views           int
		viewers, rules  map[string]bool
		first, last     string
	}
	people := map[string]*person{}
	for _, e := range tr.Events {
		if len(e.Categories) == 0 || !slices.IsSorted(e.Categories) {
			t.Errorf("event %+v: categories empty or unsorted", e)
		}
		p := people[e.Victim]
		if p == nil {
			p = &person{level: levelPossible, cats: map[string]bool{}, confirmed: map[string]bool{}, viewers: map[string]bool{}, rules: map[string]bool{}}
			people[e.Victim] = p
		}
		p.rules[e.Rule] = true
		for _, c := range e.Categories {
			p.cats[c] = true
		}
		switch e.Level {
		case levelConfirmed:
			p.level = levelConfirmed
			for _, c := range e.Categories {
				p.confirmed[c] = true
			}
			p.views++
			p.viewers[e.Viewer] = true
			if p.first == "" || e.Time < p.first {
				p.first = e.Time
			}
			if e.Time > p.last {
				p.last = e.Time
			}
		case levelPossible:
		default:
			t.Errorf("event %+v: level %q", e, e.Level)
		}
	}
	keys := func(m map[string]bool) []string {
		out := []string{}
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if len(tr.Affected) != len(people) {
		t.Errorf("affected: %d people, the events name %d", len(tr.Affected), len(people))
	}
	var confirmed, possible int
	for _, a := range tr.Affected {
		p := people[a.UserID]
		if p == nil {
			t.Errorf("affected %s: no event names them", a.UserID)
			continue
		}
		if a.Level == levelConfirmed {
			confirmed++
		} else {
			possible++
		}
		first, last := "", ""
		if a.FirstExposed != nil {
			first, last = *a.FirstExposed, *a.LastExposed
		}
		got := []any{a.Level, a.RuleLevel, a.Categories, a.ConfirmedCategories, a.Views, a.Viewers, first, last, a.Rules}
		want := []any{p.level, p.level, keys(p.cats), keys(p.confirmed), p.views, len(p.viewers), p.first, p.last, keys(p.rules)}
		if g, w := toJSON(got), toJSON(want); g != w {
			t.Errorf("affected %s: got %s, want (from the events) %s", a.UserID, g, w)
		}
	}
	if tr.Counts.Confirmed != confirmed || tr.Counts.Possible != possible {
		t.Errorf("counts %+v, affected has %d confirmed, %d possible", tr.Counts, confirmed, possible)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestScenarios(t *testing.T) {
	url, db := pgtest.NewDB(t)
	ctx := context.Background()
	getenv := func(string) (string, bool) { return "", false }
	for _, sc := range scenarioCases {
		for _, format := range sc.formats {
			precisions := []string{""}
			if format == FormatNginx {
				precisions = []string{PrecisionMillisecond, PrecisionSecond}
			}
			for _, prec := range precisions {
				t.Run(sc.scenario+"/"+format+"/"+prec, func(t *testing.T) {
					out := filepath.Join(t.TempDir(), "out")
					res, err := Run(ctx, db, Options{Out: out, Scenario: sc.scenario, Format: format, Precision: prec,
						Users: 600, Requests: 12000, Seed: 5, UsersDBURL: url})
					if err != nil {
						t.Fatal(err)
					}
					tr := readTruth(t, res.TruthFile)
					if tr.Scenario != sc.scenario || tr.Format != format || tr.Case != "sim-"+sc.scenario {
						t.Errorf("truth names scenario %q, format %q, case %q", tr.Scenario, tr.Format, tr.Case)
					}
					checkDerived(t, tr)

					// Events: the rule, inside the window, at the precision.
					start, end := windowStart.UTC().Format(time.RFC3339), windowEnd.UTC().Format(time.RFC3339)
					ms := tr.Precision == PrecisionMillisecond
					for _, e := range tr.Events {
						if e.Rule != sc.rule {
							t.Errorf("event %+v: rule %q, want %q", e, e.Rule, sc.rule)
						}
						if e.Time < start || e.Time >= end {
							t.Errorf("event %+v outside the window", e)
						}
						if strings.Contains(e.Time, ".") != ms {
							t.Errorf("event time %s: precision %s", e.Time, tr.Precision)
						}
						if e.Status != 200 && !(sc.scenario == ScenarioTakeover && e.Status == 302 && e.Path == "/login") {
							t.Errorf("event %+v: status %d counts", e, e.Status)
						}
					}
					if len(tr.Events) == 0 {
						t.Fatal("no events")
					}
					for _, lv := range sc.levels {
						if !slices.ContainsFunc(tr.Affected, func(a scenarioPerson) bool { return a.Level == lv }) {
							t.Errorf("nobody is %s", lv)
						}
					}
					if sc.needEmpty && tr.EmptyEvents == 0 {
						t.Errorf("no event exposed nothing on file")
					}
					for _, want := range sc.nearMisses {
						if !slices.ContainsFunc(tr.NearMisses, func(n nearMiss) bool { return strings.Contains(n.Why, want) }) {
							t.Errorf("no near miss %q", want)
						}
					}
					if !slices.IsSortedFunc(tr.NearMisses, func(a, b nearMiss) int { return strings.Compare(a.Time, b.Time) }) {
						t.Errorf("near misses not in time order")
					}

					// The logs: as many lines as the truth says, and every
					// event's and near miss's path among them.
					lines := readScenarioLogs(t, out, tr.Files)
					if int64(len(lines)) != tr.Lines || tr.Lines != res.Lines || tr.Requests != tr.Lines {
						t.Errorf("logs have %d lines; truth says lines %d, requests %d; result %d", len(lines), tr.Lines, tr.Requests, res.Lines)
					}
					all := strings.Join(lines, "\n")
					for _, e := range tr.Events {
						if !strings.Contains(all, e.Path) {
							t.Errorf("event path %s is in no log line", e.Path)
						}
					}
					// Every event and unattributed entry names the edge whose
					// logs hold a line with its path and query.
					byPop := map[string][]string{}
					for _, f := range tr.Files {
						pop, _, _ := strings.Cut(strings.TrimPrefix(f, "logs/"), "/")
						byPop[pop] = append(byPop[pop], f)
					}
					popLines := map[string][]string{}
					for pop, files := range byPop {
						popLines[pop] = readScenarioLogs(t, out, files)
					}
					for _, e := range slices.Concat(tr.Events, tr.Unattributed) {
						ls, ok := popLines[e.Pop]
						if !ok {
							t.Errorf("event %+v: pop %q has no logs", e, e.Pop)
							continue
						}
						if !slices.ContainsFunc(ls, func(l string) bool {
							return strings.Contains(l, e.Path) && strings.Contains(l, e.Query)
						}) {
							t.Errorf("event %+v: no line of %s's logs has its path and query", e, e.Pop)
						}
					}
					for _, n := range tr.NearMisses {
						if !strings.Contains(all, n.Path) {
							t.Errorf("near miss path %s is in no log line", n.Path)
						}
					}

					// The case file validates, with the scenario's rule.
					b, err := os.ReadFile(res.CaseFile)
					if err != nil {
						t.Fatal(err)
					}
					c, err := incident.Parse(b, getenv)
					if err != nil {
						t.Fatalf("case file: %v\n%s", err, b)
					}
					if len(c.Exposure.Rules) != 1 || c.Exposure.Rules[0].Name != sc.rule || c.CauseKind != sc.cause || c.IdentityKind != "session" {
						t.Errorf("case file: rules %+v, cause %s, identity_kind %s", c.Exposure.Rules, c.CauseKind, c.IdentityKind)
					}
					for _, w := range c.Warnings {
						t.Errorf("case file warning: %v", w)
					}
					// Every language the simulated customers read, but
					// English, has its own narrative.
					spoken := []string{"ja"}
					for _, l := range euLocales {
						spoken = append(spoken, l)
					}
					for _, loc := range spoken {
						if n := c.NarrativeFor(loc); loc != "en" && (n.Cause == c.Narrative.Cause || n.Measures == c.Narrative.Measures || n.Consequences == c.Narrative.Consequences) {
							t.Errorf("notify.narrative.%s: missing or English: %+v", loc, n)
						}
					}

					scenarioSpecifics(t, sc.scenario, tr, db)
				})
			}
		}
	}
}

// scenarioSpecifics checks what only one scenario has.
func scenarioSpecifics(t *testing.T, scenario string, tr *scenarioTruth, db *sqlx.DB) {
	t.Helper()
	switch scenario {
	case ScenarioEnumeration:
		// A shared order: one request, two victims.
		type req struct{ time, path, query string }
		seen := map[req]int{}
		for _, e := range tr.Events {
			if e.Path == "/api/orders" {
				seen[req{e.Time, e.Path, e.Query}]++
			}
		}
		shared := 0
		for _, n := range seen {
			if n > 1 {
				shared++
			}
		}
		if shared == 0 {
			t.Errorf("no order with two owners was read")
		}
		var multi int
		if err := db.Get(&multi, `SELECT count(*) FROM (SELECT object_id FROM sim_orders GROUP BY object_id HAVING count(*) > 1) s`); err != nil {
			t.Fatal(err)
		}
		if multi == 0 {
			t.Errorf("sim_orders has no order with two owners")
		}
	case ScenarioTakeover:
		for _, e := range tr.Events {
			if !strings.HasPrefix(e.Viewer, "ip:203.0.113.") && e.Viewer != "ip:"+takeoverNoisyIP {
				t.Errorf("event %+v: viewer outside the infrastructure", e)
			}
			if (e.Path == "/login") != (e.Level == levelPossible) {
				t.Errorf("event %+v: logins are possible, page views confirmed", e)
			}
		}
		if !slices.ContainsFunc(tr.Events, func(e scenarioEvent) bool { return e.Viewer == "ip:"+takeoverNoisyIP }) {
			t.Errorf("no event from the address found by the threshold")
		}
	case ScenarioBucket:
		if tr.UnattributedEvents != 3 || len(tr.Unattributed) != 3 {
			t.Errorf("unattributed events: %d (%d listed), want 3", tr.UnattributedEvents, len(tr.Unattributed))
		}
		from := windowStart.Add(bucketPublic).UTC().Format(time.RFC3339)
		for _, e := range tr.Events {
			if e.Level != levelConfirmed || !strings.HasPrefix(e.Viewer, "ip:") || e.Time < from {
				t.Errorf("event %+v: want confirmed, anonymous, after %s", e, from)
			}
		}
		var owners []int
		if err := db.Select(&owners, `SELECT count(*) FROM sim_documents GROUP BY object_id`); err != nil {
			t.Fatal(err)
		}
		if slices.Min(owners) < 1 || slices.Max(owners) != 3 {
			t.Errorf("documents have %d to %d owners, want 1 to 3", slices.Min(owners), slices.Max(owners))
		}
	case ScenarioMixup:
		for _, e := range tr.Events {
			if !strings.HasPrefix(e.Viewer, "user:") || e.Viewer == "user:"+e.Victim || !strings.HasPrefix(e.Path, "/mypage/") {
				t.Errorf("event %+v: want a members' page served to another user", e)
			}
		}
	}
}

func TestScenarioDeterminism(t *testing.T) {
	url, db := pgtest.NewDB(t)
	ctx := context.Background()
	digest := func() string {
		var d string
		if err := db.Get(&d, `SELECT md5(coalesce((SELECT string_agg(session_id || '|' || user_id, E'\n' ORDER BY session_id) FROM sim_sessions), '') ||
			coalesce((SELECT string_agg(object_id || '|' || user_id, E'\n' ORDER BY object_id, user_id) FROM sim_orders), '') ||
			coalesce((SELECT string_agg(object_id || '|' || user_id, E'\n' ORDER BY object_id, user_id) FROM sim_documents), ''))`); err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS sim_orders (object_id text, user_id bigint)`,
		`CREATE TABLE IF NOT EXISTS sim_documents (object_id text, user_id bigint)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	for _, sc := range scenarioCases {
		t.Run(sc.scenario, func(t *testing.T) {
			run := func(seed uint64) (map[string][]byte, string) {
				out := filepath.Join(t.TempDir(), "out")
				if _, err := Run(ctx, db, Options{Out: out, Scenario: sc.scenario, Users: 300, Requests: 6000, Seed: seed, UsersDBURL: url}); err != nil {
					t.Fatal(err)
				}
				return readTree(t, out), digest()
			}
			a, da := run(3)
			b, db2 := run(3)
			if len(a) != len(b) || da != db2 {
				t.Fatalf("same seed: %d then %d files; tables %s then %s", len(a), len(b), da, db2)
			}
			for name, content := range a {
				if !bytes.Equal(content, b[name]) {
					t.Errorf("same seed: %s differs between runs", name)
				}
			}
			c, dc := run(4)
			if bytes.Equal(a["truth.json"], c["truth.json"]) || da == dc {
				t.Errorf("seeds 3 and 4 gave the same truth or tables")
			}
		})
	}
}

func TestScenarioOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"mixup in cloudfront", Options{Scenario: ScenarioMixup, Format: FormatCloudFront}, "cloudfront logs cannot carry it: use --format nginx or jsonl"},
		{"mixup in cloudflare", Options{Scenario: ScenarioMixup, Format: FormatCloudflare}, "cloudflare logs cannot carry it"},
		{"unknown scenario", Options{Scenario: "phishing"}, `unknown scenario "phishing"`},
		{"too few users", Options{Scenario: ScenarioBucket, Users: 50}, "needs at least 100 users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Out = "x"
			_, err := tc.o.normalize()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("normalize: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	for _, s := range Scenarios {
		o, err := Options{Out: "x", Scenario: s.Name, Format: FormatNginx}.normalize()
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		if want := map[bool]string{true: DefaultCaseID, false: "sim-" + s.Name}[s.Name == ScenarioCache]; o.CaseID != want {
			t.Errorf("%s: case id %q, want %q", s.Name, o.CaseID, want)
		}
	}
	// The attackers' user agents come after the population's.
	if uaPythonRequests != len(userAgents) || allAgents[uaAWSCLI] != toolAgents[len(toolAgents)-1] {
		t.Errorf("toolAgents are not indexed after userAgents (%d of them)", len(userAgents))
	}
}

// TestCaseNarratives checks every scenario's narrative in every notice
// language, including those whose templates are not in incident.Locales yet:
// all three parts, and YAML quoting that reads back the same text.
func TestCaseNarratives(t *testing.T) {
	want := []string{"ja", "de", "fr", "es", "it", "nl"}
	for _, s := range Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			o, err := Options{Out: "unused", Scenario: s.Name, Users: 300, Requests: 3000, Seed: 1}.normalize()
			if err != nil {
				t.Fatal(err)
			}
			cs := cacheCase(o)
			if s.Name != ScenarioCache {
				sc, err := buildScenario(o, newPopulation(o.Seed, o.Users))
				if err != nil {
					t.Fatal(err)
				}
				cs = sc.spec
			}
			if got := narrativeLocales(cs, append([]string{"en"}, want...)); !slices.Equal(got, want) {
				t.Errorf("narrative locales %v, want %v", got, want)
			}
			for loc, n := range cs.localNarrative {
				for i, text := range n {
					if strings.TrimSpace(text) == "" {
						t.Errorf("%s narrative part %d is empty", loc, i)
						continue
					}
					if text == cs.narrative[i] {
						t.Errorf("%s narrative part %d is the English text", loc, i)
					}
					var back string
					if err := yaml.Unmarshal([]byte("x: "+yamlQuote(text)), &struct {
						X *string `yaml:"x"`
					}{&back}); err != nil || back != text {
						t.Errorf("%s narrative part %d: YAML reads back %q (%v), want %q", loc, i, back, err, text)
					}
				}
			}
		})
	}
}
