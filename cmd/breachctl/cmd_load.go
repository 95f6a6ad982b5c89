package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/ingest"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/progress"
	"github.com/breachctl/breachctl/internal/textsafe"
)

type loadOptions struct {
	caseFile       string
	engine         string
	files          []string
	host           string
	margin         time.Duration
	allowTruncated bool
	workers        int
	list           bool
	drop           []string
	rejects        int
}

const loadLong = `Load this machine's share of the case's logs into the case database, for a
later ingest --loaded to correlate every machine's share as one run. Use it
when the logs are spread over several machines (or too many for one): run
load on each machine that holds some of them, every one pointed (--db) at
the same case database (a Citus coordinator for --engine citus), then run
ingest --loaded once, anywhere.

The files are those the case file's logs[].paths find on this machine (a
glob that matches nothing here is fine: its files are elsewhere), narrowed
by --files when given. Each file is hashed (SHA-256) and recorded before it
is parsed, and its lines accounted for (parsed + rejected == lines), exactly
as ingest does; the cache rule's responses are COPYed into the case's
records table (on Citus distributed by pop and cache key, so each worker
holds whole lineages), the other rules' requests into its requests table.
A load that fails or is interrupted is marked so and its records removed.

The records hold each requester's identity as logged (a session cookie, for
identity_kind session: resolving it needs it as it was) and the client
address of anonymous ones, until the load is dropped: drop the loads (--drop
all) when the case no longer needs a run from them. A dropped load stays in
the list, marked, with its files' hashes; its number is not used again.

ingest --loaded refuses, naming the load: a load still loading, failed or
interrupted; a load made from another version of the case file (the
routes, window and rules decide what a load keeps), with another engine or
another --margin; and two loads holding a file with the same bytes (it
would be counted twice). --drop N removes load N (its records too); --list
shows them all.`

func newLoadCmd(d *deps) *cobra.Command {
	var o loadOptions
	cmd := &cobra.Command{
		Use:   "load -f incident.yaml [--engine citus|postgres] [--files GLOB]... | --list | --drop N",
		Short: "Load this machine's share of the logs, for ingest --loaded (logs on several machines)",
		Long:  loadLong,
		Example: `  # on each machine that holds logs (the same case file, the same coordinator):
  breachctl load -f incident.yaml --db postgres://coordinator/breachctl --files '/var/log/edge/tokyo-*.gz'
  # then once:
  breachctl ingest -f incident.yaml --db postgres://coordinator/breachctl --engine citus --loaded
  breachctl load -f incident.yaml --list`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoad(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.engine, "engine", "citus", "where the loads are correlated: citus (the case database is a Citus coordinator) or postgres")
	f.StringArrayVar(&o.files, "files", nil, "load only the case's files matching this glob (absolute, or relative to the current directory or to the case file; repeatable)")
	f.StringVar(&o.host, "host", "", "name of this machine in the load's record (default: its hostname)")
	f.DurationVar(&o.margin, "margin", ingest.DefaultMargin, "keep lines this long before window.start and after window.end (every load of a run must use the same)")
	f.BoolVar(&o.allowTruncated, "allow-truncated", false, "accept truncated input files (their lines before the cut are used)")
	f.IntVar(&o.workers, "workers", 0, "parsing goroutines (default: one per core)")
	f.IntVar(&o.rejects, "rejects", 3, "list this many rejected lines of each file")
	f.BoolVar(&o.list, "list", false, "list the case's loads and stop")
	f.StringArrayVar(&o.drop, "drop", nil, "remove load N and its records (repeatable; \"all\": every load of the case)")
	return cmd
}

func runLoad(ctx context.Context, d *deps, o loadOptions) error {
	if o.margin < 0 {
		return usageErrorf("--margin must not be negative")
	}
	switch o.engine {
	case "postgres", "citus":
	default:
		return usageErrorf("--engine %q: loads are correlated in the database: use citus or postgres", o.engine)
	}
	if o.list && len(o.drop) > 0 {
		return usageErrorf("--list and --drop: use one at a time")
	}
	c, err := d.loadCase(o.caseFile)
	if err != nil {
		return err
	}
	st, err := d.store(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	switch {
	case o.list:
		return listLoads(ctx, d, st, c)
	case len(o.drop) > 0:
		drop, err := loadNumbers(ctx, st, c.ID, o.drop)
		if err != nil {
			return err
		}
		all := slices.Contains(o.drop, "all")
		for _, n := range drop {
			if err := ingest.DropLoad(ctx, st, c.ID, n); errors.Is(err, ingest.ErrStillLoading) && all {
				fmt.Fprintf(d.io.Out, "case %s: load %d left alone: %v\n", c.ID, n, err)
				continue
			} else if err != nil {
				return err
			}
			fmt.Fprintf(d.io.Out, "case %s: load %d dropped, with its records\n", c.ID, n)
		}
		return nil
	}
	gunzip, err := d.gunzip()
	if err != nil {
		return err
	}
	var read atomic.Int64
	var bar *progress.Bar
	res, err := ingest.Load(ctx, st, c, ingest.LoadOptions{Files: o.files, Host: o.host, Options: ingest.Options{
		Margin: o.margin, AllowTruncated: o.allowTruncated, Workers: o.workers, Gunzip: gunzip, Engine: o.engine,
		Logger: d.logger(), Progress: &read,
		OnStart: func(total int64, files int) {
			bar = progress.Start(d.io.Err, d.io.ErrIsTerminal, total, fmt.Sprintf("loading %d files", files), true, &read)
		},
	}})
	bar.Stop()
	if res != nil && res.Load > 0 {
		var ie *ingest.InterruptedError
		if !errors.As(err, &ie) {
			res.Run = 0
			printIngest(d, c, &res.Result, o.rejects)
		}
		if err == nil {
			fmt.Fprintf(d.io.Out, "load %d: %d responses of the cache rule's routes and %d requests of the other rules sent to the case database\n",
				res.Load, res.Uploaded.Records, res.Uploaded.Hits)
			fmt.Fprintf(d.io.Out, "next: load the other machines' shares, then breachctl ingest -f %s --engine %s --loaded\n", o.caseFile, o.engine)
		}
	}
	var te *ingest.TruncatedError
	if errors.As(err, &te) {
		return fmt.Errorf("load %d is marked failed and its records removed: %w", res.Load, err)
	}
	return err
}

// loadNumbers reads --drop: load numbers, or "all" (every load of the case).
func loadNumbers(ctx context.Context, st *store.Store, caseID string, args []string) ([]int, error) {
	var out []int
	for _, a := range args {
		if a == "all" {
			loads, err := st.ListLoads(ctx, caseID)
			if err != nil {
				return nil, err
			}
			for _, l := range loads {
				if l.State != store.LoadDropped {
					out = append(out, l.Load)
				}
			}
			continue
		}
		n, err := strconv.Atoi(a)
		if err != nil || n <= 0 {
			return nil, usageErrorf("--drop %q: give a load number (see --list) or all", a)
		}
		out = append(out, n)
	}
	return out, nil
}

func listLoads(ctx context.Context, d *deps, st *store.Store, c *incident.Case) error {
	loads, err := st.ListLoads(ctx, c.ID)
	if err != nil {
		return err
	}
	if len(loads) == 0 {
		fmt.Fprintf(d.io.Out, "case %s has no loads\n", c.ID)
		return nil
	}
	tw := tabwriter.NewWriter(d.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOAD\tHOST\tENGINE\tSTATE\tFILES\tLINES\tRESPONSES\tREQUESTS\tSTARTED\tCASE FILE")
	for _, l := range loads {
		cf := "this version"
		if l.CaseFileSHA256 != c.SHA256 {
			cf = "another version: load again"
		}
		state := l.State
		if l.Error.Valid {
			state += ": " + textsafe.Term(l.Error.String)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", l.Load, textsafe.Term(l.Host), l.Engine, state, l.Files, l.Lines,
			l.Records, l.Hits, l.StartedAt.UTC().Format(time.RFC3339), cf)
	}
	return tw.Flush()
}
