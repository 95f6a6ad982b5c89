package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/pgtest"
)

func TestSimulateScenarioUsage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown scenario", []string{"simulate", "--out", "x", "--scenario", "phishing"}, `--scenario "phishing": use one of cache, enumeration, mixup, takeover, bucket`},
		{"mixup in cloudfront", []string{"simulate", "--out", "x", "--scenario", "mixup", "--format", "cloudfront"}, "cloudfront logs cannot carry it: use --format nginx or jsonl"},
		{"mixup in cloudflare", []string{"simulate", "--out", "x", "--scenario", "mixup", "--format", "cloudflare"}, "cloudflare logs cannot carry it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, tc.args...)
			if r.code != 2 || !strings.Contains(r.err, tc.wantErr) || strings.Count(strings.TrimSpace(r.err), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want exit 2 and one line containing %q", r.code, r.err, tc.wantErr)
			}
		})
	}
	r := runCLI(t, nil, "simulate", "--help")
	for _, s := range []string{"cache ", "enumeration ", "mixup ", "takeover ", "bucket "} {
		if !strings.Contains(r.out, "\n  "+s) {
			t.Errorf("simulate --help does not list scenario %q:\n%s", s, r.out)
		}
	}
	if r = runCLI(t, nil, "demo", "--help"); !strings.Contains(r.out, "--scenario") {
		t.Errorf("demo --help has no --scenario:\n%s", r.out)
	}
}

func TestSimulateScenarioThenValidate(t *testing.T) {
	caseURL, _ := pgtest.NewDB(t)
	usersURL, _ := pgtest.NewDB(t)
	env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
	for _, tc := range []struct{ scenario, format string }{
		{"enumeration", "cloudflare"}, {"mixup", "nginx"}, {"takeover", "cloudfront"}, {"bucket", "jsonl"},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "incident")
			r := runCLI(t, env, "simulate", "--scenario", tc.scenario, "--format", tc.format, "--out", out,
				"--users", "400", "--requests", "10000", "--users-db", usersURL)
			if r.code != 0 || !strings.Contains(r.err, "simulating "+tc.scenario) {
				t.Fatalf("simulate: exit %d\n%s\n%s", r.code, r.out, r.err)
			}
			r = runCLI(t, env, "validate", "-f", filepath.Join(out, "incident.yaml"))
			if r.code != 0 || !strings.Contains(r.out, "checks passed") || !strings.Contains(r.out, "case sim-"+tc.scenario) {
				t.Fatalf("validate: exit %d\n%s\n%s", r.code, r.out, r.err)
			}
		})
	}
}
