package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/internal/safefile"
)

type affectedOptions struct {
	caseFile string
	format   string
	out      string
	run      int
}

func newAffectedCmd(d *deps) *cobra.Command {
	var o affectedOptions
	cmd := &cobra.Command{
		Use:   "affected -f incident.yaml [--format csv|jsonl] [-o FILE]",
		Short: "List the affected accounts of the latest run",
		Long: `List every affected account of the latest ingest run (or --run N).

CSV columns: user_id, level, categories, views, viewers, first_exposed,
last_exposed. level is "confirmed" when some event proves their data was
served to another party, else "possible" (their page was stored in the cache
during the window, or the attribution is ambiguous). categories lists every
category of theirs exposed or possibly exposed, ;-joined and sorted; views
counts confirmed exposure events, viewers the distinct other parties in them;
times are RFC 3339 UTC. JSONL adds category_levels, country, region, locale
and rules (the exposure rules that found the person, sorted).

The list names user ids only. -o writes a 0600 file, atomically.`,
		Example: "  breachctl affected -f incident.yaml -o affected.csv\n  breachctl affected -f incident.yaml --format jsonl | jq -r 'select(.level==\"confirmed\") | .user_id'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAffected(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.format, "format", "csv", "output format: csv or jsonl")
	f.StringVarP(&o.out, "output", "o", "", "write to FILE (mode 0600) instead of standard output")
	f.IntVar(&o.run, "run", 0, "list this run instead of the latest")
	return cmd
}

func runAffected(ctx context.Context, d *deps, o affectedOptions) error {
	if o.format != "csv" && o.format != "jsonl" {
		return usageErrorf("--format %q: use csv or jsonl", o.format)
	}
	c, st, run, err := d.openRun(ctx, o.caseFile, o.run)
	if err != nil {
		return err
	}
	defer st.Close()
	rows, err := st.ListAffected(ctx, c.ID, run.Run)
	if err != nil {
		return err
	}
	write := func(w io.Writer) error {
		if o.format == "jsonl" {
			return triage.WriteAffectedJSONL(w, rows)
		}
		return triage.WriteAffectedCSV(w, rows)
	}
	if o.out == "" {
		return write(d.io.Out)
	}
	if err := safefile.Write(o.out, write); err != nil {
		return err
	}
	fmt.Fprintf(d.io.Err, "wrote %d affected accounts of run %d to %s (mode 0600)\n", len(rows), run.Run, o.out)
	return nil
}
