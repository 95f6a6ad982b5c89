package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/triage"
)

type discloseOptions struct {
	caseFile string
	format   string
	run      int
}

func newDiscloseCmd(d *deps) *cobra.Command {
	var o discloseOptions
	cmd := &cobra.Command{
		Use:   "disclose -f incident.yaml USER_ID",
		Short: `One person's exposure, for the support desk ("was I affected?")`,
		Long: `Show what of one person's data was exposed, when and how often, in their own
time zone (from their country and region). Other parties appear only as
counts, never as identities. A person who is not affected is told so (exit 0).
Each exposure rule that found them says how their data was reached, and each
page listed names its rule.`,
		Example: "  breachctl disclose -f incident.yaml 100197\n  breachctl disclose -f incident.yaml 100197 --format json",
		Args:    exactArgs(1, "one USER_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDisclose(cmd.Context(), d, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.IntVar(&o.run, "run", 0, "use this run instead of the latest")
	return cmd
}

func runDisclose(ctx context.Context, d *deps, o discloseOptions, userID string) error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--format %q: use text or json", o.format)
	}
	c, st, run, err := d.openRun(ctx, o.caseFile, o.run)
	if err != nil {
		return err
	}
	defer st.Close()
	disc, err := triage.Disclose(ctx, st, c, run.Run, userID)
	if err != nil {
		return err
	}
	if o.format == "json" {
		return disc.WriteJSON(d.io.Out)
	}
	return disc.WriteText(d.io.Out)
}
