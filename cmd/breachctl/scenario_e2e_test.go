package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// scenarioTruth is what the scenario tests read of truth.json.
type scenarioTruth struct {
	Scenario  string `json:"scenario"`
	Precision string `json:"precision"`
	Events    []struct {
		Time       string   `json:"time"`
		Rule       string   `json:"rule"`
		Victim     string   `json:"victim"`
		Viewer     string   `json:"viewer"`
		Level      string   `json:"level"`
		Categories []string `json:"categories"`
		Path       string   `json:"path"`
		Status     int      `json:"status"`
	} `json:"events"`
	UnattributedEvents int `json:"unattributed_events"`
	EmptyEvents        int `json:"empty_events"`
	Affected           []struct {
		UserID       string   `json:"user_id"`
		Level        string   `json:"level"`
		Categories   []string `json:"categories"`
		Views        int      `json:"views"`
		Viewers      int      `json:"viewers"`
		FirstExposed *string  `json:"first_exposed"`
		LastExposed  *string  `json:"last_exposed"`
		Rules        []string `json:"rules"`
	} `json:"affected"`
	NearMisses []struct {
		Why string `json:"why"`
	} `json:"near_misses"`
}

// TestScenariosMatchTruth simulates every incident kind in every log
// format that can carry it (both timestamp precisions where the format
// has a choice), ingests it, and compares the result with the simulator's
// ground truth exactly: every exposure event (time, rule, victim, viewer,
// level, categories, path, status), the unattributed and empty events, and
// every affected person (level, categories, views, viewers, first and last
// exposure, rules) — near misses included, since a near miss the engine
// took would be an event or a person the truth does not have.
func TestScenariosMatchTruth(t *testing.T) {
	cases := []struct {
		scenario, format, precision string
	}{
		{"enumeration", "nginx", "ms"}, {"enumeration", "nginx", "s"}, {"enumeration", "cloudfront", ""},
		{"enumeration", "cloudflare", "ms"}, {"enumeration", "jsonl", "s"},
		{"mixup", "nginx", "ms"}, {"mixup", "nginx", "s"}, {"mixup", "jsonl", "ms"},
		{"takeover", "nginx", "ms"}, {"takeover", "cloudfront", ""}, {"takeover", "cloudflare", "s"}, {"takeover", "jsonl", "ms"},
		{"bucket", "nginx", "s"}, {"bucket", "cloudfront", ""}, {"bucket", "cloudflare", "ms"}, {"bucket", "jsonl", "ms"},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("%s-%s-%s", tc.scenario, tc.format, tc.precision)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			caseURL, _ := pgtest.NewDB(t)
			usersURL, _ := pgtest.NewDB(t)
			out := filepath.Join(t.TempDir(), "incident")
			env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
			args := []string{"simulate", "--scenario", tc.scenario, "--out", out, "--users", "600", "--requests", "40000",
				"--users-db", usersURL, "--format", tc.format, "--seed", fmt.Sprint(100 + i)}
			if tc.precision != "" {
				args = append(args, "--precision", tc.precision)
			}
			if r := runCLI(t, env, args...); r.code != 0 {
				t.Fatalf("simulate: exit %d\n%s", r.code, r.err)
			}
			caseFile := filepath.Join(out, "incident.yaml")
			raw, err := os.ReadFile(filepath.Join(out, "truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var truth scenarioTruth
			if err := json.Unmarshal(raw, &truth); err != nil {
				t.Fatal(err)
			}
			if len(truth.Events) == 0 || len(truth.Affected) == 0 || len(truth.NearMisses) == 0 {
				t.Fatalf("the simulation has %d events, %d people, %d near misses: the test would prove little",
					len(truth.Events), len(truth.Affected), len(truth.NearMisses))
			}
			r := runCLI(t, env, "ingest", "-f", caseFile)
			if r.code != 0 {
				t.Fatalf("ingest: exit %d\n%s\n%s", r.code, r.out, r.err)
			}
			if strings.Contains(r.out, "WARNING") {
				t.Errorf("ingest warned:\n%s", r.out)
			}

			// Every exposure event, exactly.
			var want []string
			for _, e := range truth.Events {
				cats := slices.Clone(e.Categories)
				slices.Sort(cats)
				want = append(want, fmt.Sprintf("%s %s %s %s %s [%s] %s %d", mustTime(t, e.Time).UTC().Format(time.RFC3339Nano),
					e.Rule, e.Victim, e.Level, e.Viewer, strings.Join(cats, ","), e.Path, e.Status))
			}
			slices.Sort(want)
			got, kinds := storedEvents(t, caseURL, truth.Scenario, caseFile)
			if !slices.Equal(got, want) {
				t.Errorf("exposure events differ (%d stored, %d in the truth):\n%s", len(got), len(want), diffLines(got, want))
			}
			if kinds["unattributed"] != truth.UnattributedEvents || kinds["empty"] != truth.EmptyEvents || kinds["unresolved"] != 0 {
				t.Errorf("events by kind %v, want %d unattributed, %d empty, none unresolved", kinds, truth.UnattributedEvents, truth.EmptyEvents)
			}

			// Every affected person, exactly.
			var wantA []string
			for _, a := range truth.Affected {
				first, last := "-", "-"
				if a.FirstExposed != nil {
					first, last = mustTime(t, *a.FirstExposed).UTC().Format(time.RFC3339Nano), mustTime(t, *a.LastExposed).UTC().Format(time.RFC3339Nano)
				}
				wantA = append(wantA, fmt.Sprintf("%s %s [%s] views=%d viewers=%d %s %s rules=%s", a.UserID, a.Level,
					strings.Join(a.Categories, ","), a.Views, a.Viewers, first, last, strings.Join(a.Rules, ",")))
			}
			slices.Sort(wantA)
			ra := runCLI(t, env, "affected", "-f", caseFile, "--format", "jsonl")
			if ra.code != 0 {
				t.Fatalf("affected: %s", ra.err)
			}
			var gotA []string
			sc := bufio.NewScanner(strings.NewReader(ra.out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var a struct {
					triage.AffectedJSON
					Rules []string `json:"rules"`
				}
				if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
					t.Fatal(err)
				}
				first, last := "-", "-"
				if a.FirstExposed != nil {
					first, last = a.FirstExposed.UTC().Format(time.RFC3339Nano), a.LastExposed.UTC().Format(time.RFC3339Nano)
				}
				gotA = append(gotA, fmt.Sprintf("%s %s [%s] views=%d viewers=%d %s %s rules=%s", a.UserID, a.Level,
					strings.Join(a.Categories, ","), a.Views, a.Viewers, first, last, strings.Join(a.Rules, ",")))
			}
			slices.Sort(gotA)
			if !slices.Equal(gotA, wantA) {
				t.Errorf("affected people differ (%d reported, %d in the truth):\n%s", len(gotA), len(wantA), diffLines(gotA, wantA))
			}
			t.Logf("%d events, %d people, %d near misses match the truth", len(want), len(wantA), len(truth.NearMisses))
		})
	}
}

// storedEvents reads the latest run's exposure events as the truth writes
// them, sorted, and counts the events of the other kinds.
func storedEvents(t *testing.T, caseURL, scenario, caseFile string) ([]string, map[string]int) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Connect(ctx, caseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := &store.Store{DB: db}
	caseID := caseIDOf(t, caseFile)
	run, err := st.LatestRun(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	kinds := map[string]int{}
	err = st.EachEvent(ctx, caseID, run.Run, func(e *store.ExposureEvent) error {
		kinds[e.Kind]++
		if e.Kind != "exposure" {
			return nil
		}
		cats := slices.Clone([]string(e.Categories))
		slices.Sort(cats)
		out = append(out, fmt.Sprintf("%s %s %s %s %s [%s] %s %d", e.At.UTC().Format(time.RFC3339Nano), e.Rule, e.Victim.String,
			e.Level.String, e.Viewer, strings.Join(cats, ","), e.Path, e.Status))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out, kinds
}

func caseIDOf(t *testing.T, caseFile string) string {
	t.Helper()
	b, err := os.ReadFile(caseFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if id, ok := strings.CutPrefix(l, "id: "); ok {
			return strings.Trim(strings.TrimSpace(id), `"'`)
		}
	}
	t.Fatalf("%s has no id", caseFile)
	return ""
}

// diffLines shows what only one side has (at most 10 lines of each).
func diffLines(got, want []string) string {
	var b strings.Builder
	onlyGot, onlyWant := 0, 0
	for _, g := range got {
		if !slices.Contains(want, g) && onlyGot < 10 {
			fmt.Fprintf(&b, "  only reported: %s\n", g)
			onlyGot++
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) && onlyWant < 10 {
			fmt.Fprintf(&b, "  only in truth: %s\n", w)
			onlyWant++
		}
	}
	return b.String()
}

// simulateScenario writes a small scenario and returns its case file and
// environment.
func simulateScenario(t *testing.T, scenario string) (string, map[string]string) {
	t.Helper()
	caseURL, _ := pgtest.NewDB(t)
	usersURL, _ := pgtest.NewDB(t)
	out := filepath.Join(t.TempDir(), "incident")
	env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
	if r := runCLI(t, env, "simulate", "--scenario", scenario, "--out", out, "--users", "300", "--requests", "20000", "--users-db", usersURL); r.code != 0 {
		t.Fatalf("simulate: exit %d\n%s", r.code, r.err)
	}
	return filepath.Join(out, "incident.yaml"), env
}

func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

// An actor list that matches nothing is not "nobody was affected": ingest
// says so, naming the rule.
func TestActorListMatchingNothingWarns(t *testing.T) {
	caseFile, env := simulateScenario(t, "takeover")
	editFile(t, caseFile, "actors: {cidrs: [203.0.113.0/24]}", "actors: {cidrs: [198.18.0.0/15]}")
	editFile(t, caseFile, ", threshold: 20}", "}")
	r := runCLI(t, env, "ingest", "-f", caseFile)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s", r.code, r.err)
	}
	for _, w := range []string{"rule takeover (actor): 0 confirmed, 0 possible; 0 exposure events from 0 requests",
		"WARNING exposure.rules[0] (rule takeover): no request came from the listed actors"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("ingest output lacks %q:\n%s", w, r.out)
		}
	}
	tr := runCLI(t, env, "triage", "-f", caseFile)
	if !strings.Contains(tr.out, "takeover") {
		t.Errorf("triage does not name the rule:\n%s", tr.out)
	}
}

// An owners_query lacking its columns fails validate, naming the rule and
// the field.
func TestOwnersQueryColumnsValidated(t *testing.T) {
	caseFile, env := simulateScenario(t, "bucket")
	editFile(t, caseFile, `"SELECT object_id, user_id FROM sim_documents`, `"SELECT object_id, user_id AS owner FROM sim_documents`)
	r := runCLI(t, env, "validate", "-f", caseFile)
	want := "exposure.rules[0].owners_query (rule bucket): returns object_id, owner but not user_id"
	if r.code != 1 || !strings.Contains(r.out, want) {
		t.Errorf("validate: exit %d, want 1 and %q:\n%s%s", r.code, want, r.out, r.err)
	}
}
