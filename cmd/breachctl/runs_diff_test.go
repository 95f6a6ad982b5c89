package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
)

// twoRuns ingests one simulated incident twice: run 1 from one edge's
// files only (a second case file with a narrower glob, same case id), run 2
// from all of them.
func twoRuns(t *testing.T) (caseFile string, env map[string]string, truth truthFile, edgeFiles []string) {
	t.Helper()
	caseFile, env, truth = simulateCase(t, "nginx")
	raw, err := os.ReadFile(caseFile)
	if err != nil {
		t.Fatal(err)
	}
	const all = `paths: ["logs/*/*.log", "logs/*/*.log.gz"]`
	if !strings.Contains(string(raw), all) {
		t.Fatalf("the simulated case file no longer has %s", all)
	}
	part := filepath.Join(filepath.Dir(caseFile), "part.yaml")
	if err := os.WriteFile(part, []byte(strings.Replace(string(raw), all, `paths: ["logs/NRT51/*"]`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range truth.Files {
		if strings.HasPrefix(f, "logs/NRT51/") {
			edgeFiles = append(edgeFiles, f)
		}
	}
	for i, cf := range []string{part, caseFile} {
		if r := runCLI(t, env, "ingest", "-f", cf); r.code != 0 {
			t.Fatalf("ingest %d: exit %d\n%s\n%s", i+1, r.code, r.out, r.err)
		}
	}
	return caseFile, env, truth, edgeFiles
}

// affectedOf reads a run's affected accounts as `affected --format jsonl` lists them.
func affectedOf(t *testing.T, env map[string]string, caseFile string, run string) map[string]struct {
	Level      string   `json:"level"`
	Categories []string `json:"categories"`
} {
	t.Helper()
	r := runCLI(t, env, "affected", "-f", caseFile, "--format", "jsonl", "--run", run)
	if r.code != 0 {
		t.Fatalf("affected --run %s: exit %d %s", run, r.code, r.err)
	}
	out := map[string]struct {
		Level      string   `json:"level"`
		Categories []string `json:"categories"`
	}{}
	for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var a struct {
			UserID     string   `json:"user_id"`
			Level      string   `json:"level"`
			Categories []string `json:"categories"`
		}
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("affected line %q: %v", line, err)
		}
		out[a.UserID] = struct {
			Level      string   `json:"level"`
			Categories []string `json:"categories"`
		}{a.Level, a.Categories}
	}
	return out
}

func TestDiffTwoRuns(t *testing.T) {
	caseFile, env, _, _ := twoRuns(t)
	a, b := affectedOf(t, env, caseFile, "1"), affectedOf(t, env, caseFile, "2")
	if len(a) == 0 || len(a) >= len(b) {
		t.Fatalf("run 1 has %d people, run 2 %d: want part of the evidence to find fewer", len(a), len(b))
	}

	r := runCLI(t, env, "diff", "-f", caseFile, "--format", "json")
	if r.code != 0 {
		t.Fatalf("diff: exit %d %s", r.code, r.err)
	}
	var d revision.Diff
	if err := json.Unmarshal([]byte(r.out), &d); err != nil {
		t.Fatalf("diff json: %v\n%s", err, r.out)
	}
	if d.Case != "sim-cache-leak" || d.From != 1 || d.To != 2 {
		t.Errorf("diff of %s run %d -> %d, want sim-cache-leak 1 -> 2 (the two latest)", d.Case, d.From, d.To)
	}
	// Every changed person, and only they, is listed, as the two affected lists say.
	got := map[string]revision.Person{}
	for _, p := range d.People {
		got[p.UserID] = p
	}
	for id, pb := range b {
		pa, was := a[id]
		p, listed := got[id]
		switch {
		case !was:
			if !listed || p.Change != revision.ChangeAdded || p.LevelTo != pb.Level || !slices.Equal(p.CategoriesAdded, pb.Categories) {
				t.Errorf("user %s is new in run 2 (%s %v); diff says %+v", id, pb.Level, pb.Categories, p)
			}
		case pa.Level != pb.Level || !slices.Equal(pa.Categories, pb.Categories):
			if !listed || p.LevelFrom != pa.Level || p.LevelTo != pb.Level {
				t.Errorf("user %s changed (%s %v -> %s %v); diff says %+v (listed %v)", id, pa.Level, pa.Categories, pb.Level, pb.Categories, p, listed)
			}
			for _, c := range p.CategoriesAdded {
				if slices.Contains(pa.Categories, c) || !slices.Contains(pb.Categories, c) {
					t.Errorf("user %s: category %s is not new in run 2", id, c)
				}
			}
		}
	}
	for id := range a {
		if _, still := b[id]; !still {
			if p := got[id]; p.Change != revision.ChangeRemoved {
				t.Errorf("user %s is not in run 2; diff says %+v", id, p)
			}
		}
	}
	// Run 2 read all the evidence: its people are the simulator's truth.
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(caseFile), "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		Affected []struct {
			UserID string `json:"user_id"`
		} `json:"affected"`
	}
	if err := json.Unmarshal(raw, &tr); err != nil {
		t.Fatal(err)
	}
	if d.Totals.To.People != len(tr.Affected) || d.Totals.To.People != len(b) || d.Totals.From.People != len(a) {
		t.Errorf("totals %+v; want %d -> %d people (truth %d)", d.Totals, len(a), len(b), len(tr.Affected))
	}
	if d.Totals.Added-d.Totals.Removed != len(b)-len(a) {
		t.Errorf("added %d - removed %d != %d", d.Totals.Added, d.Totals.Removed, len(b)-len(a))
	}
	if d.Totals.Added == 0 || d.Totals.Grew == 0 {
		t.Errorf("one edge then all four: want people added and people whose exposure grew; totals %+v", d.Totals)
	}

	// Text: the summary, then capped lists; --all lists everyone.
	r = runCLI(t, env, "diff", "-f", caseFile)
	if r.code != 0 || !strings.Contains(r.out, "sim-cache-leak: run 1 (") ||
		!strings.Contains(r.out, "PEOPLE     "+itoa(len(a))+" → "+itoa(len(b))) {
		t.Errorf("diff text: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if d.Totals.Added > revision.DefaultListLimit && !strings.Contains(r.out, "--all shows every person") {
		t.Errorf("diff text does not cap the lists:\n%s", r.out)
	}
	if all := runCLI(t, env, "diff", "-f", caseFile, "--all"); all.code != 0 || strings.Contains(all.out, "… and ") {
		t.Errorf("diff --all: exit %d, still capped", all.code)
	}
	// No names or emails: the user database's values never appear.
	for _, word := range []string{"@", "example.com"} {
		if strings.Contains(r.out, word) {
			t.Errorf("diff text contains %q", word)
		}
	}

	// CSV to a file: 0600, one row per changed person; explicit runs.
	out := filepath.Join(t.TempDir(), "changes.csv")
	r = runCLI(t, env, "diff", "-f", caseFile, "--from", "1", "--to", "2", "--format", "csv", "-o", out)
	if r.code != 0 || r.out != "" || !strings.Contains(r.err, "mode 0600") {
		t.Fatalf("diff -o: exit %d out %q err %q", r.code, r.out, r.err)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("diff -o file: %v mode %v, want 0600", err, st.Mode())
	}
	f, _ := os.Open(out)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) != 1+len(d.People) || recs[0][0] != "user_id" || recs[0][5] != "categories_withdrawn" {
		t.Errorf("csv: %v, %d rows for %d people, header %v", err, len(recs)-1, len(d.People), recs[0])
	}

	// Backwards: the same changes seen from run 2.
	r = runCLI(t, env, "diff", "-f", caseFile, "--from", "2", "--to", "1", "--format", "json")
	var back revision.Diff
	if r.code != 0 || json.Unmarshal([]byte(r.out), &back) != nil || back.Totals.Removed != d.Totals.Added || back.Totals.Added != d.Totals.Removed {
		t.Errorf("diff 2 -> 1: exit %d totals %+v; want added and removed swapped from %+v", r.code, back.Totals, d.Totals)
	}
}

func itoa(n int) string {
	s, _ := json.Marshal(n)
	return string(s)
}

func TestRunsListsRunsAndDetermines(t *testing.T) {
	caseFile, env, truth, edgeFiles := twoRuns(t)
	st, err := store.Open(context.Background(), env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A report written from run 1, notices under both runs, and a run 3
	// that is still being written.
	gen := time.Date(2017, 6, 23, 9, 0, 0, 0, time.UTC)
	if _, err := st.RecordReport(context.Background(), store.ReportRecord{CaseID: "sim-cache-leak", Kind: "appi-preliminary", Run: 1, Format: "md", GeneratedAt: gen}); err != nil {
		t.Fatal(err)
	}
	st.DB.MustExec(`INSERT INTO breachctl.notices (case_id, run, user_id, state, message_id, kind, smtp_reply) VALUES
		('sim-cache-leak', 1, 'u1', 'sent', 'm1', 'first', '250 ok'),
		('sim-cache-leak', 1, 'u2', 'failed', 'm2', 'first', '550 no'),
		('sim-cache-leak', 2, 'u1', 'sent', 'm1', 'first', 'already sent in run 1; not sent again'),
		('sim-cache-leak', 2, 'u1b', 'pending', 'm3', 'first', NULL),
		('sim-cache-leak', 2, 'u3', 'uncertain', 'm4', 'update', NULL)`)
	st.DB.MustExec(`INSERT INTO breachctl.runs (case_id, run, case_file_sha256, state) VALUES ('sim-cache-leak', 3, 'x', 'running')`)

	r := runCLI(t, env, "runs", "-f", caseFile, "--format", "json")
	if r.code != 0 {
		t.Fatalf("runs: exit %d %s", r.code, r.err)
	}
	var rj struct {
		Case string             `json:"case"`
		Runs []revision.RunInfo `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.out), &rj); err != nil {
		t.Fatalf("runs json: %v\n%s", err, r.out)
	}
	if rj.Case != "sim-cache-leak" || len(rj.Runs) != 3 || rj.Runs[0].Run != 1 || rj.Runs[2].Run != 3 {
		t.Fatalf("runs %+v, want runs 1, 2, 3 oldest first", rj)
	}
	r1, r2, r3 := rj.Runs[0], rj.Runs[1], rj.Runs[2]
	if r1.Evidence.Files != len(edgeFiles) || r2.Evidence.Files != len(truth.Files) {
		t.Errorf("evidence files %d, %d; want %d (one edge) and %d", r1.Evidence.Files, r2.Evidence.Files, len(edgeFiles), len(truth.Files))
	}
	var others []string
	for _, f := range truth.Files {
		if !slices.Contains(edgeFiles, f) {
			others = append(others, f)
		}
	}
	slices.Sort(others)
	if r2.Evidence.ComparedTo != 1 || !slices.Equal(r2.Evidence.Added, others) || len(r2.Evidence.Removed) != 0 || len(r2.Evidence.Changed) != 0 {
		t.Errorf("run 2 evidence against run %d: added %v removed %v changed %v; want the other edges' %d files added",
			r2.Evidence.ComparedTo, r2.Evidence.Added, r2.Evidence.Removed, r2.Evidence.Changed, len(others))
	}
	for i, run := range []revision.RunInfo{r1, r2} {
		aff := affectedOf(t, env, caseFile, itoa(i+1))
		if run.Affected == nil || run.Affected.People != len(aff) || run.State != "done" || run.FinishedAt == nil {
			t.Errorf("run %d: %+v; want done with %d people", run.Run, run, len(aff))
		}
	}
	if r3.State != "running" || r3.Affected != nil {
		t.Errorf("run 3 = %+v; want running with no counts", r3)
	}
	if n := r1.Notices["first"]; n.Sent != 1 || n.Failed != 1 {
		t.Errorf("run 1 first notices %+v, want 1 sent 1 failed", n)
	}
	if n := r2.Notices["first"]; n.Sent != 0 || n.AlreadySent != 1 || n.Pending != 1 {
		t.Errorf("run 2 first notices %+v, want 1 already sent, 1 pending", n)
	}
	if n := r2.Notices["update"]; n.Uncertain != 1 {
		t.Errorf("run 2 update notices %+v, want 1 uncertain", n)
	}
	if len(r1.Reports) != 1 || r1.Reports[0].Kind != "appi-preliminary" || !r1.Reports[0].GeneratedAt.Equal(gen) || len(r2.Reports) != 0 {
		t.Errorf("reports: run 1 %+v, run 2 %+v", r1.Reports, r2.Reports)
	}

	r = runCLI(t, env, "runs", "-f", caseFile)
	for _, want := range []string{"sim-cache-leak: 3 runs (times in Asia/Tokyo)", "run 3  running", "affected    none shown: the run is running",
		"against run 1: " + itoa(len(others)) + " added, 0 removed, 0 changed", "reports     appi-preliminary (md) 2017-06-23 18:00:00 JST"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("runs text lacks %q:\n%s", want, r.out)
		}
	}

	// --determine, --undetermine.
	r = runCLI(t, env, "runs", "-f", caseFile, "--determine", "2", "--at", "2017-06-23T18:00:00+09:00")
	if r.code != 0 || !strings.Contains(r.out, "run 2 of case sim-cache-leak: count determined") || !strings.Contains(r.out, "2017-06-23 18:00:00 JST") {
		t.Fatalf("--determine: exit %d out %q err %q", r.code, r.out, r.err)
	}
	run2, err := st.GetRun(context.Background(), "sim-cache-leak", 2)
	if err != nil || !run2.DeterminedAt.Valid || !run2.DeterminedAt.Time.Equal(time.Date(2017, 6, 23, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("run 2 determined_at = %v, %v", run2.DeterminedAt, err)
	}
	if r = runCLI(t, env, "runs", "-f", caseFile, "--determine", "1"); r.code != 0 {
		t.Errorf("--determine 1 (now): exit %d %s", r.code, r.err)
	}
	if run1, _ := st.GetRun(context.Background(), "sim-cache-leak", 1); !run1.DeterminedAt.Valid || time.Since(run1.DeterminedAt.Time) > time.Hour {
		t.Errorf("--determine without --at: run 1 determined_at = %v, want about now", run1.DeterminedAt)
	}
	if r = runCLI(t, env, "runs", "-f", caseFile, "--undetermine", "2"); r.code != 0 || !strings.Contains(r.out, "determination cleared") {
		t.Errorf("--undetermine: exit %d out %q err %q", r.code, r.out, r.err)
	}
	if run2, _ = st.GetRun(context.Background(), "sim-cache-leak", 2); run2.DeterminedAt.Valid {
		t.Errorf("run 2 still determined at %v", run2.DeterminedAt.Time)
	}

	// Errors: unknown runs and bad flags exit 2; a run that is not done exits 1.
	bad := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"determine unknown run", []string{"runs", "--determine", "9"}, 2, "run 9 of case sim-cache-leak does not exist"},
		{"undetermine unknown run", []string{"runs", "--undetermine", "9"}, 2, "run 9 of case sim-cache-leak does not exist"},
		{"determine a running run", []string{"runs", "--determine", "3"}, 1, "run 3 of case sim-cache-leak is running, not done"},
		{"determine zero", []string{"runs", "--determine", "0"}, 2, "--determine 0: give a run number"},
		{"both", []string{"runs", "--determine", "1", "--undetermine", "1"}, 2, "give one of them"},
		{"at without determine", []string{"runs", "--at", "2017-06-23T18:00:00Z"}, 2, "only with --determine"},
		{"bad at", []string{"runs", "--determine", "1", "--at", "tomorrow"}, 2, `--at "tomorrow": not an RFC 3339 time`},
		{"runs bad format", []string{"runs", "--format", "csv"}, 2, `--format "csv"`},
		{"diff same run", []string{"diff", "--from", "2", "--to", "2"}, 2, "are the same run"},
		{"diff from the latest", []string{"diff", "--from", "2"}, 2, "--from 2 is the latest completed run"},
		{"diff unknown from", []string{"diff", "--from", "9"}, 2, "run 9 of case sim-cache-leak does not exist"},
		{"diff unknown to", []string{"diff", "--from", "1", "--to", "9"}, 2, "run 9 of case sim-cache-leak does not exist"},
		{"diff a running run", []string{"diff", "--from", "1", "--to", "3"}, 1, "run 3 of case sim-cache-leak is running, not done"},
		{"diff bad format", []string{"diff", "--format", "xml"}, 2, `--format "xml"`},
		{"diff negative", []string{"diff", "--from", "-1"}, 2, "run numbers are 1 or more"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, env, append(tc.args, "-f", caseFile)...)
			if r.code != tc.code || !strings.Contains(r.err, tc.want) || r.out != "" {
				t.Errorf("exit %d err %q out %q; want exit %d and %q", r.code, r.err, r.out, tc.code, tc.want)
			}
			if strings.Count(strings.TrimSpace(r.err), "\n") > 0 {
				t.Errorf("more than one error line: %q", r.err)
			}
		})
	}
}

// TestDiffNeedsTwoRuns: a case with one completed run has nothing to compare.
func TestDiffNeedsTwoRuns(t *testing.T) {
	path, env := writeCase(t, nil)
	if r := runCLI(t, env, "ingest", "-f", path); r.code != 0 {
		t.Fatalf("ingest: exit %d %s", r.code, r.err)
	}
	r := runCLI(t, env, "diff", "-f", path)
	if r.code != 1 || !strings.Contains(r.err, "no completed run before run 1") || r.out != "" {
		t.Errorf("diff with one run: exit %d err %q out %q", r.code, r.err, r.out)
	}
	r = runCLI(t, env, "runs", "-f", path)
	if r.code != 0 || !strings.Contains(r.out, "1 run (") || !strings.Contains(r.out, "determined  no") {
		t.Errorf("runs: exit %d out %q err %q", r.code, r.out, r.err)
	}
}
