package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
)

// TestReportRevision: run 1 on part of the evidence, the preliminary report
// and the notices; run 2 on all of it; the final report names the
// preliminary one and the figures that changed; every report written is
// recorded with the SHA-256 of its output; obligations list the update
// notices owed under the same clock as the first ones.
func TestReportRevision(t *testing.T) {
	caseFile, env, _ := simulateCase(t, "nginx")
	dir := filepath.Dir(caseFile)
	logs, err := filepath.Glob(filepath.Join(dir, "logs", "*"))
	if err != nil || len(logs) < 2 {
		t.Fatalf("simulated logs: %v %v", logs, err)
	}
	// Run 1 sees every log file but the last.
	hidden := filepath.Join(t.TempDir(), "held-back")
	if err := os.Rename(logs[len(logs)-1], hidden); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest run 1: %s", r.err)
	}
	now1, now2 := "2017-06-23T10:00:00+09:00", "2017-06-28T10:00:00+09:00"
	pre := runCLI(t, env, "report", "-f", caseFile, "--kind", "appi-preliminary", "--format", "json", "--now", now1)
	if pre.code != 0 {
		t.Fatalf("report run 1: exit %d: %s", pre.code, pre.err)
	}
	if strings.Contains(pre.out, `"revision"`) {
		t.Errorf("the first report has a revision:\n%s", pre.out)
	}
	if err := os.Rename(hidden, logs[len(logs)-1]); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest run 2: %s", r.err)
	}

	db, err := sqlx.Open("postgres", env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Everyone of run 1 was told (what the lead's notify send records).
	db.MustExec(`INSERT INTO breachctl.notices (case_id, run, user_id, state, message_id, sent_at, kind, basis_run)
		SELECT case_id, run, user_id, 'sent', 'm-' || user_id, '2017-06-24T09:00:00+09:00', 'first', run
		FROM breachctl.affected WHERE run = 1`)

	fin := runCLI(t, env, "report", "-f", caseFile, "--kind", "appi-final", "--format", "json", "--now", now2)
	if fin.code != 0 {
		t.Fatalf("report run 2: exit %d: %s", fin.code, fin.err)
	}
	var doc struct {
		Run      int
		Numbers  json.RawMessage
		Revision *struct {
			Previous struct {
				Kind        string `json:"kind"`
				Run         int    `json:"run"`
				GeneratedAt string `json:"generated_at"`
			} `json:"previous"`
			Changes []struct {
				Figure   string
				From, To int
			} `json:"changes"`
		}
	}
	if err := json.Unmarshal([]byte(fin.out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Run != 2 || doc.Revision == nil {
		t.Fatalf("final report: run %d, revision %v", doc.Run, doc.Revision)
	}
	if p := doc.Revision.Previous; p.Kind != "appi-preliminary" || p.Run != 1 || p.GeneratedAt != "2017-06-23T01:00:00Z" {
		t.Errorf("previous = %+v", p)
	}
	// The changes are exactly the differences between the two reports'
	// numbers, figure by figure.
	type numbers struct {
		People     map[string]int `json:"people"`
		ByCategory map[string]int `json:"by_category"`
		ByRegion   map[string]int `json:"by_region"`
	}
	var n1, n2 struct{ Numbers numbers }
	if err := json.Unmarshal([]byte(pre.out), &n1); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(fin.out), &n2); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int{}
	diff := func(prefix string, a, b map[string]int) {
		for k := range a {
			if a[k] != b[k] {
				want[prefix+k] = [2]int{a[k], b[k]}
			}
		}
		for k := range b {
			if a[k] != b[k] {
				want[prefix+k] = [2]int{a[k], b[k]}
			}
		}
	}
	diff("people.", n1.Numbers.People, n2.Numbers.People)
	diff("by_category.", n1.Numbers.ByCategory, n2.Numbers.ByCategory)
	diff("by_region.", n1.Numbers.ByRegion, n2.Numbers.ByRegion)
	if len(want) == 0 {
		t.Fatalf("both runs count %+v: the held-back file changed nothing", n1.Numbers)
	}
	got := map[string][2]int{}
	for _, c := range doc.Revision.Changes {
		got[c.Figure] = [2]int{c.From, c.To}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %v, want %v", got, want)
	}

	// Both reports are recorded, with their output's SHA-256.
	var recs []struct {
		Kind   string `db:"kind"`
		Run    int    `db:"run"`
		Format string `db:"format"`
		SHA    string `db:"sha256"`
	}
	if err := db.Select(&recs, `SELECT kind, run, format, sha256 FROM breachctl.reports ORDER BY report_no`); err != nil {
		t.Fatal(err)
	}
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	if len(recs) != 2 || recs[0].Kind != "appi-preliminary" || recs[0].Run != 1 || recs[1].Kind != "appi-final" || recs[1].Run != 2 ||
		recs[0].Format != "json" || recs[0].SHA != sum(pre.out) || recs[1].SHA != sum(fin.out) {
		t.Errorf("recorded reports = %+v", recs)
	}

	// Markdown to a file: recorded too, still a revision of run 1's.
	out := filepath.Join(t.TempDir(), "final.md")
	if r := runCLI(t, env, "report", "-f", caseFile, "--kind", "appi-final", "-o", out, "--now", now2); r.code != 0 {
		t.Fatalf("report -o: %s", r.err)
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "## 前回報告からの変更") || !strings.Contains(string(md), "第1回集計") {
		t.Errorf("Markdown final report lacks the changes since the preliminary one")
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM breachctl.reports WHERE sha256 = $1 AND format = 'md'`, sum(string(md))); err != nil || n != 1 {
		t.Errorf("the Markdown report is recorded %d times (%v), want once", n, err)
	}

	// Obligations: every duty has its clock; the update notices owed for
	// run 2 are listed under the first notices' clock.
	ob := runCLI(t, env, "obligations", "-f", caseFile, "--format", "json", "--now", now2)
	if ob.code != 0 {
		t.Fatalf("obligations: %s", ob.err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(ob.out), &rows); err != nil {
		t.Fatal(err)
	}
	var grownUpdates int
	byID := map[string]map[string]any{}
	for _, r := range rows {
		byID[r["id"].(string)] = r
		if c, _ := r["clock"].(string); c == "" {
			t.Errorf("%v has no clock", r["id"])
		}
	}
	var grown int
	if err := db.Get(&grown, `SELECT count(*) FROM breachctl.affected a JOIN breachctl.affected b USING (case_id, user_id)
		WHERE a.run = 1 AND b.run = 2 AND (NOT b.categories <@ a.categories OR (a.level = 'possible' AND b.level = 'confirmed')
		   OR EXISTS (SELECT 1 FROM jsonb_each_text(b.category_levels) c WHERE c.value = 'confirmed'
		              AND coalesce(a.category_levels ->> c.key, '') <> 'confirmed'))`); err != nil {
		t.Fatal(err)
	}
	if u, ok := byID["appi-individuals-update"]; ok {
		grownUpdates = int(u["people"].(float64))
		if u["clock"] != byID["appi-individuals"]["clock"] || u["deadline"] != byID["appi-individuals"]["deadline"] {
			t.Errorf("update duty %v is not under the first notices' clock %v", u, byID["appi-individuals"])
		}
	}
	if _, appi := byID["appi-individuals"]; !appi {
		t.Errorf("no appi-individuals duty in the simulated case: %v", ob.out)
	} else if grownUpdates != grown {
		t.Errorf("APPI update notices for %d people, want the %d whose exposure grew", grownUpdates, grown)
	}
	t.Logf("grown %d, APPI update rows %d", grown, grownUpdates)
	if grown == 0 {
		t.Logf("nobody's exposure grew between the runs: the update rows are not exercised here")
	}
}
