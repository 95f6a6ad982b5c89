package main

import (
	"context"
	"fmt"
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
	precision string
	seed      uint64
	usersDB   string
	caseID    string
	ttl       time.Duration
}

const simulateLong = `Write a realistic CDN cache-leak incident, in the spirit of the June 2017
case: for a few hours a CDN cached private "My Page" responses and served them
to other customers.

It writes, under --out:
  incident.yaml   a case file that validates (point 'breachctl ingest' at it)
  logs/EDGE/*.gz  access logs of several edges, each with its own cache,
                  covering the window plus an hour either side; unsorted
                  lines, gzip and plain files, a few truncated lines
  truth.json      every exposure event and every affected person exactly as
                  the simulation served them: the oracle for tests

Users (Japanese and Latin names; residents of Japan, US states and EU
countries) and their sessions go into the user database, in the simulator's
own tables sim_users and sim_sessions (dropped and re-created). The user
database is --users-db, else $USERS_DATABASE_URL, else the case database.
The case file connects to it as the role breachctl_reader (created, LOGIN,
without a password, if missing), which may only SELECT from those two
tables: validate and ingest refuse a role that could write. The same seed
gives the same bytes.`

func newSimulateCmd(d *deps) *cobra.Command {
	var o simulateOptions
	cmd := &cobra.Command{
		Use:   "simulate --out DIR",
		Short: "Write a simulated incident: users, CDN logs, a case file and the ground truth",
		Long:  simulateLong,
		Example: `  breachctl simulate --out /tmp/incident --users 20000 --requests 1000000
  breachctl simulate --out /tmp/cf --format cloudfront --seed 7`,
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
	f.StringVar(&o.precision, "precision", "", "timestamp precision: ms or s (default ms; cloudfront is always s)")
	f.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed writes the same incident")
	f.StringVar(&o.usersDB, "users-db", "", "user database URL (default $USERS_DATABASE_URL, then the case database)")
	f.StringVar(&o.caseID, "case-id", "sim-cache-leak", "case id written into the case file")
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
	fmt.Fprintf(d.io.Err, "simulating %d users, %d requests (%s) into %s ...\n", o.users, o.requests, o.format, o.out)
	res, err := sim.Run(ctx, db, sim.Options{
		Out: o.out, Users: o.users, Requests: o.requests, Format: o.format, Precision: o.precision,
		Seed: o.seed, CaseID: o.caseID, UsersDBURL: u, TTL: o.ttl, ReaderRole: simReaderRole,
	})
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	w := d.io.Out
	fmt.Fprintf(w, "simulated incident in %s (%s)\n", o.out, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  users        %d users, %d sessions in sim_users / sim_sessions of %s\n", res.Users, res.Sessions, store.Redact(u))
	fmt.Fprintf(w, "  reader role  %s: SELECT on those two tables only; the case file connects as it\n", simReaderRole)
	fmt.Fprintf(w, "  logs         %d files, %d lines (%d truncated on purpose)\n", len(res.LogFiles), res.Lines, res.TruncatedLines)
	fmt.Fprintf(w, "  case file    %s\n", res.CaseFile)
	fmt.Fprintf(w, "  truth        %s: %d exposure events (%d exposed nothing on file); %d people confirmed, %d possible\n",
		res.TruthFile, res.Events, res.EmptyEvents, res.Confirmed, res.Possible)
	fmt.Fprintf(w, "next: breachctl validate -f %s\n", res.CaseFile)
	return nil
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
