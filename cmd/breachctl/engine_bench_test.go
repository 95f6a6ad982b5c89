package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/citustest"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// BenchmarkEngines (issue 18; `make bench`) ingests one simulated cache
// incident with each engine: streaming, postgres (SQL on one server), and
// citus on one and on two workers (a real cluster on this machine). Its
// size: BREACHCTL_ENGINE_REQUESTS (default 2,000,000) requests,
// BREACHCTL_ENGINE_USERS (default 50,000) users. It reports the whole
// ingest's seconds and the lineage phase's (lineage-s), and the same logs
// loaded in two shares (breachctl load) and correlated by ingest --loaded.
// Run it with -benchtime 1x.
func BenchmarkEngines(b *testing.B) {
	requests, users := envInt("BREACHCTL_ENGINE_REQUESTS", 2_000_000), envInt("BREACHCTL_ENGINE_USERS", 50_000)
	usersURL, _ := pgtest.NewDB(b)
	simURL, _ := pgtest.NewDB(b)
	out := filepath.Join(b.TempDir(), "incident")
	if r := runCLI(b, map[string]string{"BREACHCTL_DATABASE_URL": simURL}, "simulate", "--out", out, "--users", strconv.Itoa(users),
		"--requests", strconv.Itoa(requests), "--users-db", usersURL, "--case-id", "engines"); r.code != 0 {
		b.Fatalf("simulate: %s", r.err)
	}
	caseFile := filepath.Join(out, "incident.yaml")
	run := func(b *testing.B, dbURL, engine string) {
		b.ResetTimer() // not the cluster's start
		for i := 0; i < b.N; i++ {
			r := runCLI(b, map[string]string{"BREACHCTL_DATABASE_URL": dbURL}, "-v", "ingest", "--engine", engine, "-f", caseFile)
			if r.code != 0 {
				b.Fatalf("ingest --engine %s: %s", engine, r.err)
			}
			if m := lineageTiming.FindStringSubmatch(r.out + r.err); m != nil {
				if d, err := time.ParseDuration(m[1]); err == nil {
					b.ReportMetric(d.Seconds(), "lineage-s")
				}
			}
		}
	}
	b.Run("streaming", func(b *testing.B) {
		u, _ := pgtest.NewDB(b)
		run(b, u, "streaming")
	})
	b.Run("postgres", func(b *testing.B) {
		u, _ := pgtest.NewDB(b)
		run(b, u, "postgres")
	})
	for _, workers := range []int{1, 2} {
		b.Run("citus-"+strconv.Itoa(workers)+"-workers", func(b *testing.B) {
			cl := citustest.Start(b, workers)
			run(b, cl.URL(), "citus")
		})
	}
	// Two machines' shares (breachctl load, one after the other here), then
	// one ingest --loaded: load-s is both loads' seconds, the rest is the
	// ingest of the loads.
	b.Run("citus-2-workers-loaded", func(b *testing.B) {
		cl := citustest.Start(b, 2)
		env := map[string]string{"BREACHCTL_DATABASE_URL": cl.URL()}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			runCLI(b, env, "load", "-f", caseFile, "--drop", "1", "--drop", "2") // a second iteration's
			b.StartTimer()
			t0 := time.Now()
			for j, share := range loadShares {
				if r := runCLI(b, env, append([]string{"load", "-f", caseFile, "--engine", "citus", "--host", "machine-" + strconv.Itoa(j+1)}, share...)...); r.code != 0 {
					b.Fatalf("load: %s", r.err)
				}
			}
			b.ReportMetric(time.Since(t0).Seconds(), "load-s")
			r := runCLI(b, env, "-v", "ingest", "--engine", "citus", "--loaded", "-f", caseFile)
			b.Log(strings.Join(strings.Split(r.out, "\n")[:2], "\n"))
			if r.code != 0 {
				b.Fatalf("ingest --loaded: %s", r.err)
			}
			if m := lineageTiming.FindStringSubmatch(r.out + r.err); m != nil {
				if d, err := time.ParseDuration(m[1]); err == nil {
					b.ReportMetric(d.Seconds(), "lineage-s")
				}
			}
		}
	})
}

var lineageTiming = regexp.MustCompile(`lineage ([0-9.]+(?:ms|s|µs))`)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
