package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/internal/safefile"
)

type triageOptions struct {
	caseFile string
	format   string
	html     string
	run      int
}

func newTriageCmd(d *deps) *cobra.Command {
	var o triageOptions
	cmd := &cobra.Command{
		Use:   "triage -f incident.yaml [--format text|json] [--html FILE]",
		Short: "The summary a security lead reads first",
		Long: `Summarise the latest ingest run: the declared window against what the logs
show, every input file with its hash and line accounting (parsed + rejected
== lines), and the exposure counts.

People are "confirmed" when some event proves their data was served to
another party, "possible" when their page was stored in the cache during the
window (or the attribution is ambiguous) but no foreign view is proven. Both
numbers are always shown.

A case with several exposure rules, or a rule that is not a cache rule, adds
a breakdown by rule: people and events under each rule, and its top viewers
with how many people each reached (for object and actor rules, the suspected
attackers). --format json always has "by_rule".

--format json prints the machine-readable summary; --html FILE also writes one
self-contained page (inline SVG timeline, tables, no external assets) to open
offline and forward to legal.`,
		Example: "  breachctl triage -f incident.yaml\n  breachctl triage -f incident.yaml --html triage.html\n  breachctl triage -f incident.yaml --format json | jq .affected",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTriage(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.StringVar(&o.html, "html", "", "also write a self-contained HTML report to FILE")
	f.IntVar(&o.run, "run", 0, "summarise this run instead of the latest")
	return cmd
}

func runTriage(ctx context.Context, d *deps, o triageOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--format %q: use text or json", o.format)
	}
	c, st, err := d.openCase(ctx, o.caseFile)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := triage.Build(ctx, st, c, o.run)
	if err != nil {
		return err
	}
	if o.html != "" {
		if err := safefile.Write(o.html, s.WriteHTML); err != nil {
			return err
		}
		fmt.Fprintf(d.io.Err, "wrote %s\n", o.html)
	}
	if o.format == "json" {
		return s.WriteJSON(d.io.Out)
	}
	return s.WriteText(d.io.Out)
}
