package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/safefile"
)

type diffOptions struct {
	caseFile string
	from, to int
	format   string
	out      string
	all      bool
}

func newDiffCmd(d *deps) *cobra.Command {
	var o diffOptions
	cmd := &cobra.Command{
		Use:   "diff -f incident.yaml [--from A] [--to B] [--format text|json|csv] [-o FILE] [--all]",
		Short: "What changed between two runs' counts: people added, removed, moved, categories",
		Long: `Compare the affected accounts of two completed runs (default: the two latest;
--to B alone compares B with the completed run before it): the people added
(affected in B only), removed (in A only), upgraded (possible → confirmed) and
downgraded (confirmed → possible), each person's new or withdrawn categories
(also when their level did not change) and the categories that became
confirmed or only possible; people by category and by region in A and B with
the change; totals. Whose exposure grew (an update notice is due to those
already told) is marked; removed people are never written to automatically.

Text is a summary, then the lists, each capped at 20 people unless --all.
CSV has one row per changed person: user_id, change (added, removed,
upgraded, downgraded, categories), level_from, level_to, categories_added,
categories_withdrawn, categories_confirmed, categories_unconfirmed (;-joined).
JSON: {"case", "from", "to", "totals", "people", "by_category", "by_region"}.

User ids only, never names or addresses. -o writes a 0600 file, atomically.
Exit 2 for an unknown run or the same run twice; exit 1 when a run is not
done or the case has fewer than two completed runs.`,
		Example: "  breachctl diff -f incident.yaml\n  breachctl diff -f incident.yaml --from 1 --to 3 --format csv -o changes.csv",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiff(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.IntVar(&o.from, "from", 0, "the earlier run (default: the completed run before --to)")
	f.IntVar(&o.to, "to", 0, "the later run (default: the latest completed run)")
	f.StringVar(&o.format, "format", "text", "output format: text, json or csv")
	f.StringVarP(&o.out, "output", "o", "", "write to FILE (mode 0600) instead of standard output")
	f.BoolVar(&o.all, "all", false, "text: list every changed person (default: 20 of each change)")
	return cmd
}

func runDiff(ctx context.Context, d *deps, o diffOptions) error {
	switch o.format {
	case "text", "json", "csv":
	default:
		return usageErrorf("--format %q: use text, json or csv", o.format)
	}
	if o.from < 0 || o.to < 0 {
		return usageErrorf("--from %d --to %d: run numbers are 1 or more ('breachctl runs -f FILE' lists them)", o.from, o.to)
	}
	if o.from != 0 && o.from == o.to {
		return usageErrorf("--from %d and --to %d are the same run: compare two different runs", o.from, o.to)
	}
	c, st, err := d.openCase(ctx, o.caseFile)
	if err != nil {
		return err
	}
	defer st.Close()
	from, to, err := diffRuns(ctx, st, c.ID, o.from, o.to)
	if err != nil {
		return err
	}
	a, err := st.ListAffected(ctx, c.ID, from.Run)
	if err != nil {
		return err
	}
	b, err := st.ListAffected(ctx, c.ID, to.Run)
	if err != nil {
		return err
	}
	df := revision.Compare(c.ID, from.Run, to.Run, a, b)
	write := func(w io.Writer) error {
		switch o.format {
		case "json":
			return df.WriteJSON(w)
		case "csv":
			return df.WriteCSV(w)
		}
		opts := revision.TextOptions{All: o.all, Location: c.Location}
		if from.FinishedAt.Valid {
			opts.FromFinished = from.FinishedAt.Time
		}
		if to.FinishedAt.Valid {
			opts.ToFinished = to.FinishedAt.Time
		}
		return df.WriteText(w, opts)
	}
	if o.out == "" {
		return write(d.io.Out)
	}
	if err := safefile.Write(o.out, write); err != nil {
		return err
	}
	fmt.Fprintf(d.io.Err, "wrote the diff of run %d → run %d (%d people changed) to %s (mode 0600)\n", from.Run, to.Run, len(df.People), o.out)
	return nil
}

// diffRuns resolves --from and --to (0: default) to two completed runs.
func diffRuns(ctx context.Context, st *store.Store, caseID string, fromN, toN int) (from, to *store.Run, err error) {
	done := func(n int) (*store.Run, error) {
		r, err := st.DoneRun(ctx, caseID, n)
		if err != nil {
			return nil, unknownRun(err, caseID, n)
		}
		return r, nil
	}
	if toN > 0 {
		if to, err = done(toN); err != nil {
			return nil, nil, err
		}
	} else if to, err = st.LatestRun(ctx, caseID); err != nil {
		return nil, nil, err
	}
	if fromN > 0 {
		if fromN == to.Run {
			return nil, nil, usageErrorf("--from %d is the latest completed run, the default --to: pass --to with another run", fromN)
		}
		from, err = done(fromN)
		return from, to, err
	}
	runs, err := st.Runs(ctx, caseID) // newest first
	if err != nil {
		return nil, nil, fmt.Errorf("runs of case %s: %w", caseID, err)
	}
	for i := range runs {
		if runs[i].Run < to.Run && runs[i].State == store.RunDone {
			return &runs[i], to, nil
		}
	}
	return nil, nil, fmt.Errorf("case %s has no completed run before run %d to compare it with: ingest again (a revised count is a new run) or pass --from and --to", caseID, to.Run)
}
