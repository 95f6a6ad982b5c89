package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
)

type runsOptions struct {
	caseFile    string
	format      string
	determine   int
	undetermine int
	at          string

	determineSet, undetermineSet bool
}

func newRunsCmd(d *deps) *cobra.Command {
	var o runsOptions
	cmd := &cobra.Command{
		Use:   "runs -f incident.yaml [--format text|json] [--determine N [--at T] | --undetermine N]",
		Short: "List a case's ingest runs: evidence, counts, notices and reports of each",
		Long: `List every ingest run of the case, oldest first: its state, when it started
and finished, when its count was determined (accepted as the scope), its
evidence (files and bytes; against the previous completed run, the paths
added, removed and changed, i.e. with another SHA-256), its people counted
(confirmed / possible; a run that is not done shows its state only, never
its partial counts), its notices by kind (first, update, correction) and
state (sent, already sent under another run, pending, sending, failed,
uncertain), and the reports written from it.

--determine N records that run N's count was accepted as the scope, at --at
(RFC 3339; default now): clocks that run from the determination use it.
Only a completed run can be determined. --undetermine N clears it.

Exit 2 for an unknown run number.`,
		Example: "  breachctl runs -f incident.yaml\n  breachctl runs -f incident.yaml --determine 2 --at 2017-06-23T18:00:00+09:00\n  breachctl runs -f incident.yaml --format json | jq '.runs[] | {run, affected}'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.determineSet = cmd.Flags().Changed("determine")
			o.undetermineSet = cmd.Flags().Changed("undetermine")
			return runRuns(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.IntVar(&o.determine, "determine", 0, "record that run N's count was accepted as the scope")
	f.StringVar(&o.at, "at", "", "with --determine: when (RFC 3339; default now)")
	f.IntVar(&o.undetermine, "undetermine", 0, "clear run N's determination time")
	return cmd
}

func runRuns(ctx context.Context, d *deps, o runsOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--format %q: use text or json", o.format)
	}
	if o.determineSet && o.undetermineSet {
		return usageErrorf("--determine and --undetermine: give one of them")
	}
	if o.at != "" && !o.determineSet {
		return usageErrorf("--at %q: only with --determine N", o.at)
	}
	var at time.Time
	if o.at != "" {
		t, err := time.Parse(time.RFC3339, o.at)
		if err != nil {
			return usageErrorf("--at %q: not an RFC 3339 time (e.g. 2017-06-23T18:00:00+09:00)", o.at)
		}
		at = t
	}
	for _, f := range []struct {
		set  bool
		name string
		n    int
	}{{o.determineSet, "determine", o.determine}, {o.undetermineSet, "undetermine", o.undetermine}} {
		if f.set && f.n < 1 {
			return usageErrorf("--%s %d: give a run number (1 or more; 'breachctl runs -f FILE' lists them)", f.name, f.n)
		}
	}
	c, st, err := d.openCase(ctx, o.caseFile)
	if err != nil {
		return err
	}
	defer st.Close()
	switch {
	case o.determineSet:
		if _, err := st.DoneRun(ctx, c.ID, o.determine); err != nil {
			return unknownRun(err, c.ID, o.determine)
		}
		if at.IsZero() {
			at = d.now()
		}
		if err := st.SetDetermined(ctx, c.ID, o.determine, at); err != nil {
			return unknownRun(err, c.ID, o.determine)
		}
		fmt.Fprintf(d.io.Out, "run %d of case %s: count determined (accepted as the scope) at %s\n",
			o.determine, c.ID, at.In(c.Location).Format("2006-01-02 15:04:05 MST"))
		return nil
	case o.undetermineSet:
		if err := st.SetDetermined(ctx, c.ID, o.undetermine, time.Time{}); err != nil {
			return unknownRun(err, c.ID, o.undetermine)
		}
		fmt.Fprintf(d.io.Out, "run %d of case %s: determination cleared\n", o.undetermine, c.ID)
		return nil
	}
	runs, err := revision.Runs(ctx, st, c.ID)
	if err != nil {
		return err
	}
	if o.format == "json" {
		return revision.WriteRunsJSON(d.io.Out, c.ID, runs)
	}
	return revision.WriteRunsText(d.io.Out, c.ID, runs, c.Location)
}

// unknownRun makes a run number that does not exist a usage error (exit 2)
// saying how to list the runs; other errors pass through.
func unknownRun(err error, caseID string, n int) error {
	if errors.Is(err, store.ErrNotFound) {
		return usageErrorf("run %d of case %s does not exist: 'breachctl runs -f FILE' lists the runs", n, caseID)
	}
	return err
}
