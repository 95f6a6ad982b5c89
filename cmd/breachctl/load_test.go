package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/internal/citustest"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// evidenceDump is a run's evidence, file by file, and its totals (the run
// number left out).
func evidenceDump(t *testing.T, dbURL, caseID string) string {
	t.Helper()
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []string
	if err := db.Select(&rows, `SELECT concat_ws('|', file_no, path, bytes, sha256, format, compressed, truncated, lines, parsed, rejected,
		outside_window, rejects::text, unknown_cache::text) FROM breachctl.evidence
		WHERE case_id = $1 AND run = (SELECT max(run) FROM breachctl.runs WHERE case_id = $1 AND state = 'done') ORDER BY file_no`, caseID); err != nil {
		t.Fatal(err)
	}
	var totals string
	if err := db.Get(&totals, `SELECT totals::text FROM breachctl.runs WHERE case_id = $1 AND state = 'done' ORDER BY run DESC LIMIT 1`, caseID); err != nil {
		t.Fatal(err)
	}
	return strings.Join(rows, "\n") + "\ntotals " + totals
}

// loadShares are the --files of two machines: the hours are split, so that
// a page stored (FILL) in one machine's files is served (CACHED) from the
// other's, and every lineage spans both loads.
var loadShares = [][]string{
	{"--files", "logs/*/2017-06-21T23*", "--files", "logs/*/2017-06-22T0[0-2]*"},
	{"--files", "logs/*/2017-06-22T0[3-9]*"},
}

// compareLoaded loads caseFile in the two shares into dbURL with engine,
// makes a run of them, and compares it with the streaming run in env's
// database: events, affected accounts, evidence and totals.
func compareLoaded(t *testing.T, env map[string]string, dbURL, caseFile, caseID, engine string) {
	t.Helper()
	denv := map[string]string{"BREACHCTL_DATABASE_URL": dbURL}
	for i, share := range loadShares {
		args := append([]string{"load", "-f", caseFile, "--engine", engine, "--host", fmt.Sprintf("machine-%d", i+1)}, share...)
		if r := runCLI(t, denv, args...); r.code != 0 || !strings.Contains(r.out, fmt.Sprintf("load %d:", i+1)) {
			t.Fatalf("load share %d: exit %d\n%s\n%s", i+1, r.code, r.out, r.err)
		}
	}
	if r := runCLI(t, denv, "ingest", "-f", caseFile, "--engine", engine, "--loaded"); r.code != 0 {
		t.Fatalf("ingest --loaded: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	wantE, wantA := runDump(t, env["BREACHCTL_DATABASE_URL"], caseID)
	gotE, gotA := runDump(t, dbURL, caseID)
	if wantE == "" || wantA == "" {
		t.Fatal("the streaming run has no events or nobody affected: the test would prove nothing")
	}
	if gotE != wantE {
		t.Errorf("events differ (%d lines, streaming %d)\n%s", strings.Count(gotE, "\n")+1, strings.Count(wantE, "\n")+1, firstDiff(gotE, wantE))
	}
	if gotA != wantA {
		t.Errorf("affected accounts differ\n%s", firstDiff(gotA, wantA))
	}
	if got, want := evidenceDump(t, dbURL, caseID), evidenceDump(t, env["BREACHCTL_DATABASE_URL"], caseID); got != want {
		t.Errorf("evidence or totals differ\n%s", firstDiff(got, want))
	}
}

// TestLoadedSameAnswer (issue 18): the logs loaded by two machines (breachctl
// load, each its share of the hours) and correlated as one run (ingest
// --loaded --engine postgres) give the streaming engine's run of all the
// files on one machine, row for row: events, affected accounts, and the
// evidence (every file's hash and line accounting, numbered alike) — for a
// cache incident in two formats and both precisions, and for the scenarios
// whose other rules (object, owner, actor) ride along as loaded requests.
func TestLoadedSameAnswer(t *testing.T) {
	cases := []struct {
		name string
		make func(t *testing.T) (string, map[string]string)
	}{
		{"nginx-ms", func(t *testing.T) (string, map[string]string) {
			f, env, _ := simulateCase(t, "nginx", "--case-id", "loaded")
			return f, env
		}},
		{"cloudflare-s", func(t *testing.T) (string, map[string]string) {
			f, env, _ := simulateCase(t, "cloudflare", "--case-id", "loaded", "--precision", "s")
			return f, env
		}},
		{"enumeration", func(t *testing.T) (string, map[string]string) { return simulateScenario(t, "enumeration") }},
		{"takeover", func(t *testing.T) (string, map[string]string) { return simulateScenario(t, "takeover") }},
		{"mixup", func(t *testing.T) (string, map[string]string) { return simulateScenario(t, "mixup") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			caseFile, env := tc.make(t)
			if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
				t.Fatalf("ingest (streaming): exit %d\n%s", r.code, r.err)
			}
			pgURL, _ := pgtest.NewDB(t)
			compareLoaded(t, env, pgURL, caseFile, caseIDOf(t, caseFile), "postgres")
		})
	}
}

// TestLoadRefusals: ingest --loaded refuses what would not be one run of
// every file once — a file loaded twice, a load made from another version
// of the case file, a load that failed — naming the load and what to do;
// --drop then clears it, and --loaded needs a database engine.
func TestLoadRefusals(t *testing.T) {
	caseFile, env, _ := simulateCase(t, "nginx", "--case-id", "refusals")
	load := func(extra ...string) cliResult {
		return runCLI(t, env, append([]string{"load", "-f", caseFile, "--engine", "postgres"}, extra...)...)
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile, "--loaded"); r.code != 2 || !strings.Contains(r.err, "--engine citus (or postgres") {
		t.Errorf("--loaded without a database engine: exit %d, %s", r.code, r.err)
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile, "--engine", "postgres", "--loaded"); r.code != 1 || !strings.Contains(r.err, "has no loads") {
		t.Errorf("--loaded with no loads: exit %d, %s", r.code, r.err)
	}
	if r := load("--files", "logs/nowhere/*"); r.code != 1 || !strings.Contains(r.err, `--files "logs/nowhere/*" selects none`) {
		t.Errorf("--files selecting nothing: exit %d, %s", r.code, r.err)
	}
	if r := load(loadShares[0]...); r.code != 0 {
		t.Fatalf("load 1: exit %d\n%s", r.code, r.err)
	}
	if r := load(loadShares[0]...); r.code != 0 {
		t.Fatalf("load 2 (the same files again): exit %d\n%s", r.code, r.err)
	}
	r := runCLI(t, env, "ingest", "-f", caseFile, "--engine", "postgres", "--loaded")
	if r.code != 1 || !strings.Contains(r.err, "hold the same bytes") || !strings.Contains(r.err, "--drop 2") {
		t.Errorf("a file loaded twice: exit %d, %s", r.code, r.err)
	}
	if r := load("--drop", "2"); r.code != 0 || !strings.Contains(r.out, "load 2 dropped") {
		t.Errorf("--drop 2: exit %d, %s", r.code, r.err)
	}
	if r := load("--drop", "9"); r.code == 0 || !strings.Contains(r.err, "no load 9") {
		t.Errorf("--drop of a load that does not exist: exit %d, %s", r.code, r.err)
	}
	// The case file changes after load 1: its window, routes or rules may
	// have decided what load 1 kept.
	editFile(t, caseFile, "title: ", "title: revised ")
	if r := load(loadShares[1]...); r.code != 0 {
		t.Fatalf("load 3: exit %d\n%s", r.code, r.err)
	}
	r = runCLI(t, env, "ingest", "-f", caseFile, "--engine", "postgres", "--loaded")
	if r.code != 1 || !strings.Contains(r.err, "load 1 (host ") || !strings.Contains(r.err, "another version of the case file") {
		t.Errorf("a load of another case file version: exit %d, %s", r.code, r.err)
	}
	if r := load("--list"); r.code != 0 || !strings.Contains(r.out, "another version: load again") || !strings.Contains(r.out, "done") {
		t.Errorf("--list: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, env, "runs", "-f", caseFile, "--format", "json"); strings.Contains(r.out, `"run":`) {
		t.Errorf("a refused ingest --loaded left a run behind:\n%s", r.out)
	}
	if r := load("--drop", "1"); r.code != 0 {
		t.Fatalf("--drop 1: exit %d, %s", r.code, r.err)
	}
	if r := load("--drop", "one"); r.code != 2 || !strings.Contains(r.err, "or all") {
		t.Errorf("--drop one: exit %d, %s", r.code, r.err)
	}
	if r := load(loadShares[0]...); r.code != 0 {
		t.Fatalf("load 4: exit %d\n%s", r.code, r.err)
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile, "--engine", "postgres", "--loaded"); r.code != 0 || !strings.Contains(r.out, "run 1:") {
		t.Errorf("ingest --loaded of loads 3 and 4: exit %d\n%s%s", r.code, r.out, r.err)
	}
	// Dropped, the loads leave no record and no identity behind.
	if r := load("--drop", "all"); r.code != 0 || !strings.Contains(r.out, "load 3 dropped") || !strings.Contains(r.out, "load 4 dropped") {
		t.Errorf("--drop all: exit %d\n%s%s", r.code, r.out, r.err)
	}
	db, err := sqlx.Open("postgres", env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	if err := db.Get(&left, `SELECT (SELECT count(*) FROM breachctl.loads WHERE state <> 'dropped') +
		(SELECT count(*) FROM pg_tables WHERE schemaname = 'breachctl' AND tablename LIKE 'loaded%')`); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d loads or records tables are left after every load was dropped", left)
	}
	if r := load("--list"); !strings.Contains(r.out, "dropped") || strings.Count(r.out, "\n") != 5 {
		t.Errorf("--list after --drop all: the four loads, marked dropped:\n%s", r.out)
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile, "--engine", "postgres", "--loaded"); r.code != 1 || !strings.Contains(r.err, "has no loads") {
		t.Errorf("--loaded after every load was dropped: exit %d, %s", r.code, r.err)
	}
}

// TestLoadedCitus: the two machines' loads on a real Citus cluster (a
// coordinator and two workers): the records table is distributed by
// lineage key, the lineage runs on the workers, and the run equals the
// streaming engine's row for row; so does an enumeration, whose object
// rule's requests are distributed by the object they name.
func TestLoadedCitus(t *testing.T) {
	cl := citustest.Start(t, 2)
	caseFile, env, _ := simulateCase(t, "nginx", "--case-id", "loaded-citus", "--precision", "s")
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest (streaming): exit %d\n%s", r.code, r.err)
	}
	compareLoaded(t, env, cl.URL(), caseFile, "loaded-citus", "citus")
	// An enumeration: the object rule's requests ride along, distributed
	// by what they name.
	scFile, scEnv := simulateScenario(t, "enumeration")
	if r := runCLI(t, scEnv, "ingest", "-f", scFile); r.code != 0 {
		t.Fatalf("ingest (streaming): exit %d\n%s", r.code, r.err)
	}
	compareLoaded(t, scEnv, cl.URL(), scFile, caseIDOf(t, scFile), "citus")
	db, err := sqlx.Open("postgres", cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var shards int
	if err := db.Get(&shards, `SELECT count(*) FROM pg_dist_shard WHERE logicalrelid::text LIKE 'breachctl.loaded_%' AND logicalrelid::text NOT LIKE '%hits%'`); err != nil {
		t.Fatal(err)
	}
	if shards != 64 {
		t.Errorf("the loaded records are in %d shards, want them distributed (32 for each of the two cases)", shards)
	}
	var hitShards int
	if err := db.Get(&hitShards, `SELECT count(*) FROM pg_dist_shard WHERE logicalrelid::text LIKE 'breachctl.loaded_hits_%'`); err != nil {
		t.Fatal(err)
	}
	if hitShards != 64 {
		t.Errorf("the loaded requests are in %d shards, want them distributed by what they name", hitShards)
	}
}

// TestLoadCustody: what could make a run of loads quietly count less is
// refused — a glob of the case file that no load covers (a machine never
// loaded), a load still running, a load whose records are not all there —
// and a load whose process died can be dropped while a running one cannot.
func TestLoadCustody(t *testing.T) {
	caseFile, env, _ := simulateCase(t, "nginx", "--case-id", "custody")
	// A second machine's logs, named in the case file, never loaded.
	editFile(t, caseFile, `  - paths: ["logs/*/*.log", "logs/*/*.log.gz"]`, `  - paths: ["logs/*/*.log", "logs/*/*.log.gz", "edge-eu/*.log"]`)
	ingestLoaded := func() cliResult {
		return runCLI(t, env, "ingest", "-f", caseFile, "--engine", "postgres", "--loaded")
	}
	if r := runCLI(t, env, "load", "-f", caseFile, "--engine", "postgres"); r.code != 0 {
		t.Fatalf("load: exit %d\n%s", r.code, r.err)
	}
	if r := ingestLoaded(); r.code != 1 || !strings.Contains(r.err, `logs[0].paths[2] "edge-eu/*.log" found no file in any load`) {
		t.Errorf("a glob no load covers: exit %d, %s", r.code, r.err)
	}
	if r := runCLI(t, env, "ingest", "-f", caseFile, "--engine", "postgres", "--loaded", "--margin", "2h"); r.code != 2 || !strings.Contains(r.err, "--margin with --loaded") {
		t.Errorf("--margin with --loaded: exit %d, %s", r.code, r.err)
	}
	db, err := sqlx.Open("postgres", env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A load that is running (its advisory lock held) and one whose
	// process died (marked loading, lock free).
	for _, n := range []int{2, 3} {
		if _, err := db.Exec(`INSERT INTO breachctl.loads (case_id, load, host, engine, case_file_sha256, margin_ms, globs)
			SELECT case_id, $1, 'edge-eu-1', engine, case_file_sha256, margin_ms, '{0.2}' FROM breachctl.loads WHERE case_id = 'custody' AND load = 1`, n); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_lock(hashtext('breachctl load custody'), 2)`); err != nil {
		t.Fatal(err)
	}
	if r := ingestLoaded(); r.code != 1 || !strings.Contains(r.err, "load 2 (host edge-eu-1) is still loading") {
		t.Errorf("a load still running: exit %d, %s", r.code, r.err)
	}
	if r := runCLI(t, env, "load", "-f", caseFile, "--drop", "2"); r.code != 1 || !strings.Contains(r.err, "still loading") {
		t.Errorf("--drop of a running load: exit %d, %s%s", r.code, r.out, r.err)
	}
	r := runCLI(t, env, "load", "-f", caseFile, "--drop", "all")
	if r.code != 0 || !strings.Contains(r.out, "load 2 left alone") || !strings.Contains(r.out, "load 3 dropped") || !strings.Contains(r.out, "load 1 dropped") {
		t.Errorf("--drop all with a running load: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if _, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext('breachctl load custody'), 2)`); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "load", "-f", caseFile, "--drop", "2"); r.code != 0 {
		t.Errorf("--drop of a load whose process died: exit %d, %s", r.code, r.err)
	}
	// The glob is covered now (a file there); a load loses rows.
	if err := os.MkdirAll(filepath.Join(filepath.Dir(caseFile), "edge-eu"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(caseFile), "edge-eu", "empty.log"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, env, "load", "-f", caseFile, "--engine", "postgres"); r.code != 0 {
		t.Fatalf("load: exit %d\n%s", r.code, r.err)
	}
	var table string
	if err := db.Get(&table, `SELECT 'breachctl.' || tablename FROM pg_tables WHERE schemaname = 'breachctl' AND tablename LIKE 'loaded%' AND tablename NOT LIKE 'loaded_hits%'`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM ` + table + ` WHERE ctid IN (SELECT ctid FROM ` + table + ` LIMIT 10)`); err != nil {
		t.Fatal(err)
	}
	if r := ingestLoaded(); r.code != 1 || !strings.Contains(r.err, "load 4 sent") || !strings.Contains(r.err, "drop it") {
		t.Errorf("a load missing records: exit %d, %s", r.code, r.err)
	}
	if r := runCLI(t, env, "runs", "-f", caseFile, "--format", "json"); strings.Contains(r.out, `"run":`) {
		t.Errorf("a refused ingest --loaded left a run behind:\n%s", r.out)
	}
}
