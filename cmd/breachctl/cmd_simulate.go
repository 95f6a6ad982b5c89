package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/sim"
	"github.com/breachctl/breachctl/incident/store"
)

type simulateOptions struct {
	out       string
	users     int
	requests  int
	format    string
	scenario  string
	precision string
	seed      uint64
	usersDB   string
	caseID    string
	ttl       time.Duration
}

const simulateLong = `Write a realistic incident of one kind (--scenario), with benign traffic
around it, near misses that must not count, and its ground truth. The
default, cache, follows the June 2017 case: for a few hours a CDN cached
private "My Page" responses and served them to other customers.

Scenarios (the exposure rule of the case file in parentheses):
` + "{{scenarios}}" + `

It writes, under --out:
  incident.yaml   a case file that validates (point 'breachctl ingest' at it)
  logs/EDGE/*.gz  access logs of several edges, each with its own cache,
                  covering the window plus an hour either side; unsorted
                  lines, gzip and plain files, a few truncated lines
  truth.json      every exposure event and every affected person exactly as
                  the simulation served them, and the near misses: the
                  oracle for tests

Users (Japanese and Latin names; residents of Japan, US states and EU
countries) and their sessions go into the user database, in the simulator's
own tables sim_users and sim_sessions (dropped and re-created). The user
database is --users-db, else $USERS_DATABASE_URL, else the case database.
The case file connects to it as the role breachctl_reader (created, LOGIN,
without a password, if missing), which may only SELECT from those two
tables (and the scenario's sim_orders or sim_documents): validate and
ingest refuse a role that could write. The same seed gives the same bytes.`

// simulateHelp returns simulate's long help with the scenarios listed.
func simulateHelp() string {
	var b strings.Builder
	for _, s := range sim.Scenarios {
		fmt.Fprintf(&b, "  %-12s %s\n", s.Name, s.Summary)
	}
	return strings.Replace(simulateLong, "{{scenarios}}\n", b.String(), 1)
}

func newSimulateCmd(d *deps) *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate --out DIR",
		Short: "Write a simulated incident: users, CDN logs, a case file and the ground truth",
		Long:  simulateHelp(),
		Example: `  breachctl simulate --out /tmp/incident --users 20000 --requests 1000000
  breachctl simulate --out /tmp/cf --format cloudfront --seed 7
  breachctl simulate --out /tmp/enum --scenario enumeration --format jsonl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "output directory (must be empty or absent)")
	f.IntVar(&o.users, "users", 10000, "number of users")
	f.IntVar(&o.requests, "requests", 200000, "number of requests (log lines)")
	f.StringVar(&o.format, "format", "nginx", "log format: nginx, cloudfront, cloudflare or jsonl")
	f.StringVar(&o.scenario, "scenario", sim.ScenarioCache, "kind of incident: "+scenarioNames())
	f.StringVar(&o.precision, "precision", "", "timestamp precision: ms or s (default ms; cloudfront is always s)")
	f.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed writes the same incident")
	f.StringVar(&o.usersDB, "users-db", "", "user database URL (default $USERS_DATABASE_URL, then the case database)")
	f.StringVar(&o.caseID, "case-id", "", "case id written into the case file (default sim-cache-leak, or sim-SCENARIO)")
	f.DurationVar(&o.ttl, "ttl", 30*time.Second, "how long the CDN keeps a private page during the window")
	return cmd
}

func runSimulate(ctx context.Context, d *deps, o simulateOptions) error {
	if o.out == "" {
		return usageErrorf("simulate needs --out DIR")
	}
	if !contains([]string{sim.FormatNginx, sim.FormatCloudFront, sim.FormatCloudflare, sim.FormatJSONL}, o.format) {
		return usageErrorf("--format %q: use one of nginx, cloudfront, cloudflare, jsonl", o.format)
	}
	if !slices.ContainsFunc(sim.Scenarios, func(s struct{ Name, Summary string }) bool { return s.Name == o.scenario }) {
		return usageErrorf("--scenario %q: use one of %s", o.scenario, scenarioNames())
	}
	if err := sim.CheckScenarioFormat(o.scenario, o.format); err != nil {
		return usageErrorf("--scenario %s --format %s: %v", o.scenario, o.format, err)
	}
	if o.users <= 0 || o.requests <= 0 {
		return usageErrorf("--users and --requests must be positive")
	}
	u := o.usersDB
	if u == "" {
		u = d.env("USERS_DATABASE_URL")
	}
	if u == "" {
		var err error
		if u, err = d.caseDBURL(); err != nil {
			return usageErrorf("no user database: pass --users-db URL, set USERS_DATABASE_URL, or give a case database with --db")
		}
	}
	db, err := d.connectUsers(ctx, u)
	if err != nil {
		return fmt.Errorf("user database %s: %w", store.Redact(u), err)
	}
	defer db.Close()
	fmt.Fprintf(d.io.Err, "simulating %s: %d users, %d requests (%s) into %s ...\n", o.scenario, o.users, o.requests, o.format, o.out)
	res, err := sim.Run(ctx, db, sim.Options{
		Out: o.out, Users: o.users, Requests: o.requests, Format: o.format, Precision: o.precision, Scenario: o.scenario,
		Seed: o.seed, CaseID: o.caseID, UsersDBURL: u, TTL: o.ttl, ReaderRole: simReaderRole,
	})
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	w := d.io.Out
	fmt.Fprintf(w, "simulated incident in %s (%s)\n", o.out, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  users        %d users, %d sessions in sim_users / sim_sessions of %s\n", res.Users, res.Sessions, store.Redact(u))
	if o.scenario == sim.ScenarioCache {
		fmt.Fprintf(w, "  reader role  %s: SELECT on those two tables only; the case file connects as it\n", simReaderRole)
	} else {
		fmt.Fprintf(w, "  reader role  %s: SELECT on the simulator's tables only; the case file connects as it\n", simReaderRole)
	}
	fmt.Fprintf(w, "  logs         %d files, %d lines (%d truncated on purpose)\n", len(res.LogFiles), res.Lines, res.TruncatedLines)
	fmt.Fprintf(w, "  case file    %s\n", res.CaseFile)
	fmt.Fprintf(w, "  truth        %s: %d exposure events (%d exposed nothing on file); %d people confirmed, %d possible\n",
		res.TruthFile, res.Events, res.EmptyEvents, res.Confirmed, res.Possible)
	fmt.Fprintf(w, "next: breachctl validate -f %s\n", res.CaseFile)
	return nil
}

// scenarioNames lists the scenarios, comma-separated.
func scenarioNames() string {
	names := make([]string, len(sim.Scenarios))
	for i, s := range sim.Scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// simReaderRole is the role simulate creates for the case file: one that
// can only read the simulated users (ingest refuses a role that could write).
const simReaderRole = "breachctl_reader"

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
