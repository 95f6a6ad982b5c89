package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/internal/citustest"
	"github.com/breachctl/breachctl/internal/golden"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// runDump is a run's exposure events and affected accounts, row for row,
// as text (the run number left out).
func runDump(t *testing.T, dbURL, caseID string) (events, affected string) {
	t.Helper()
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := func(sql string) string {
		var rows []string
		if err := db.Select(&rows, sql, caseID); err != nil {
			t.Fatal(err)
		}
		return strings.Join(rows, "\n")
	}
	events = q(`SELECT concat_ws('|', event_no, kind, at, pop, cache_key, path, status, victim_user_id, level, viewer, categories::text,
		evidence_file, evidence_line, rule) FROM breachctl.exposure_events
		WHERE case_id = $1 AND run = (SELECT max(run) FROM breachctl.runs WHERE case_id = $1 AND state = 'done') ORDER BY event_no`)
	affected = q(`SELECT concat_ws('|', user_id, level, categories::text, category_levels::text, views, viewers, first_exposed, last_exposed, rules::text)
		FROM breachctl.affected WHERE case_id = $1 AND run = (SELECT max(run) FROM breachctl.runs WHERE case_id = $1 AND state = 'done') ORDER BY user_id`)
	return events, affected
}

// TestEnginesSameAnswer (issue 18): the cache lineage computed as SQL in
// the case database (--engine postgres) gives the streaming engine's run
// row for row — every event and every affected account — for the
// simulator's cache incidents in every format and both precisions.
func TestEnginesSameAnswer(t *testing.T) {
	for _, tc := range engineCases {
		t.Run(tc.format+"/"+tc.precision, func(t *testing.T) {
			var extra []string
			if tc.precision != "" {
				extra = []string{"--precision", tc.precision}
			}
			caseFile, env, _ := simulateCase(t, tc.format, append(extra, "--case-id", "engines")...)
			if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
				t.Fatalf("ingest (streaming): exit %d\n%s", r.code, r.err)
			}
			pgURL, _ := pgtest.NewDB(t)
			if r := runCLI(t, map[string]string{"BREACHCTL_DATABASE_URL": pgURL}, "ingest", "--engine", "postgres", "-f", caseFile); r.code != 0 {
				t.Fatalf("ingest --engine postgres: exit %d\n%s", r.code, r.err)
			}
			wantE, wantA := runDump(t, env["BREACHCTL_DATABASE_URL"], "engines")
			gotE, gotA := runDump(t, pgURL, "engines")
			if wantE == "" || wantA == "" {
				t.Fatal("the streaming run has no events or nobody affected: the test would prove nothing")
			}
			if gotE != wantE {
				t.Errorf("events differ (%d lines, streaming %d)\n%s", strings.Count(gotE, "\n")+1, strings.Count(wantE, "\n")+1, firstDiff(gotE, wantE))
			}
			if gotA != wantA {
				t.Errorf("affected accounts differ\n%s", firstDiff(gotA, wantA))
			}
		})
	}
}

// engineCases are the simulator's cache incidents the engines are compared on.
var engineCases = []struct{ format, precision string }{
	{"nginx", "ms"}, {"nginx", "s"}, {"cloudfront", ""}, {"cloudflare", "ms"}, {"cloudflare", "s"}, {"jsonl", "ms"},
}

// TestEngineCitus: on a real Citus cluster (a coordinator, the case
// database, and two workers), --engine citus gives the streaming engine's
// run row for row, in every format and precision; --engine citus on a
// database without Citus is refused before any run is made.
func TestEngineCitus(t *testing.T) {
	cl := citustest.Start(t, 2)
	for i, tc := range engineCases {
		t.Run(tc.format+"/"+tc.precision, func(t *testing.T) {
			extra := []string{"--case-id", fmt.Sprintf("engines-%d", i)}
			if tc.precision != "" {
				extra = append(extra, "--precision", tc.precision)
			}
			caseFile, env, _ := simulateCase(t, tc.format, extra...)
			if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
				t.Fatalf("ingest (streaming): exit %d\n%s", r.code, r.err)
			}
			if i == 0 {
				if r := runCLI(t, env, "ingest", "--engine", "citus", "-f", caseFile); r.code != 1 || !strings.Contains(r.err, "no Citus extension") {
					t.Errorf("--engine citus without Citus: exit %d, %s", r.code, r.err)
				}
				if r := runCLI(t, env, "runs", "-f", caseFile, "--format", "json"); strings.Count(r.out, `"run":`) != 1 {
					t.Errorf("the refused engine left a run behind:\n%s", r.out)
				}
			}
			if r := runCLI(t, map[string]string{"BREACHCTL_DATABASE_URL": cl.URL()}, "ingest", "--engine", "citus", "-f", caseFile); r.code != 0 {
				t.Fatalf("ingest --engine citus: exit %d\n%s", r.code, r.err)
			}
			id := fmt.Sprintf("engines-%d", i)
			wantE, wantA := runDump(t, env["BREACHCTL_DATABASE_URL"], id)
			gotE, gotA := runDump(t, cl.URL(), id)
			if wantE == "" || gotE != wantE || gotA != wantA {
				t.Errorf("citus run differs from the streaming run\nevents: %s\naffected: %s", firstDiff(gotE, wantE), firstDiff(gotA, wantA))
			}
		})
	}
}

// firstDiff shows the first line where two dumps differ.
func firstDiff(got, want string) string { return golden.FirstDiff([]byte(want), []byte(got)) }
