package main

import (
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
)

// TestRunNotDoneRefused: every command that reads a run's result refuses a
// run that is still running or failed, saying its state, instead of
// presenting its partial tables as the answer ("0 people", exit 0).
func TestRunNotDoneRefused(t *testing.T) {
	path, env := writeCase(t, nil)
	if r := runCLI(t, env, "ingest", "-f", path); r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	db, err := sqlx.Open("postgres", env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Run 2 is an ingest still writing (or one that died); run 3 failed.
	db.MustExec(`INSERT INTO breachctl.runs (case_id, run, case_file_sha256, state)
		VALUES ('web-cache-2017-06', 2, 'x', 'running'), ('web-cache-2017-06', 3, 'x', 'failed')`)
	db.MustExec(`UPDATE breachctl.runs SET error = 'store exposure events: connection reset' WHERE run = 3`)

	outDir := t.TempDir()
	commands := []struct {
		name string
		args []string
	}{
		{"triage text", []string{"triage", "-f", path}},
		{"triage json", []string{"triage", "-f", path, "--format", "json"}},
		{"affected", []string{"affected", "-f", path}},
		{"disclose", []string{"disclose", "-f", path, "1"}},
		{"notify render", []string{"notify", "render", "-f", path, "--out", outDir}},
		{"notify status", []string{"notify", "status", "-f", path}},
		{"report", []string{"report", "-f", path, "--kind", "gdpr-art33"}},
		{"obligations", []string{"obligations", "-f", path}},
	}
	runs := []struct {
		run, want string
	}{
		{"2", "run 2 of case web-cache-2017-06 is running, not done"},
		{"3", "run 3 of case web-cache-2017-06 is failed, not done: store exposure events: connection reset"},
	}
	for _, c := range commands {
		for _, rn := range runs {
			t.Run(c.name+" run "+rn.run, func(t *testing.T) {
				r := runCLI(t, env, append(append([]string{}, c.args...), "--run", rn.run)...)
				if r.code != 1 {
					t.Errorf("exit %d, want 1; out %q err %q", r.code, r.out, r.err)
				}
				if !strings.Contains(r.err, rn.want) {
					t.Errorf("stderr = %q, want it to contain %q", r.err, rn.want)
				}
				if r.out != "" {
					t.Errorf("printed a result for a run that is not done: %q", r.out)
				}
			})
		}
	}
	// The latest completed run is still the default, and run 1 by number works.
	for _, args := range [][]string{{"triage", "-f", path}, {"triage", "-f", path, "--run", "1"}} {
		r := runCLI(t, env, args...)
		if r.code != 0 || !strings.Contains(r.out, "run 1") {
			t.Errorf("%v: exit %d out %q err %q", args, r.code, r.out, r.err)
		}
	}
}
