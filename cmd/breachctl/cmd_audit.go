package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

type auditOptions struct {
	caseFile string
	format   string
	user     string
	actor    string
	since    string
	limit    int
}

func newAuditCmd(d *deps) *cobra.Command {
	var o auditOptions
	cmd := &cobra.Command{
		Use:   "audit -f incident.yaml [--user ID] [--actor NAME] [--since T]",
		Short: "Who looked at whose data in breachctl serve, when, from where",
		Long: `Print the case's audit log: every look at one person's data through
breachctl serve (a staff lookup by user id or e-mail address, a person's
page, a notice, a self-check by the person through the company's site), with
who (the staff account, or "self-check"), when, which person (user id), from
which address and what. E-mail addresses are never recorded: a lookup by
address records the ids it found.

The text output ends with the self-check API's refused requests (invalid,
expired, replayed tokens; rate limits) by day and reason, when no filter is
given; --format json is the entries only.`,
		Example: "  breachctl audit -f incident.yaml\n  breachctl audit -f incident.yaml --user 100197\n  breachctl audit -f incident.yaml --actor alice --since 2017-06-24T00:00:00+09:00 --format json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.StringVar(&o.user, "user", "", "only looks at this user id")
	f.StringVar(&o.actor, "actor", "", `only this staff account ("self-check" for the self-check API)`)
	f.StringVar(&o.since, "since", "", "only entries at or after this time (RFC 3339)")
	f.IntVar(&o.limit, "limit", 0, "only the newest N entries (0: all)")
	return cmd
}

func runAudit(ctx context.Context, d *deps, o auditOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--format %q: use text or json", o.format)
	}
	if o.limit < 0 {
		return usageErrorf("--limit %d: give 0 (all) or more", o.limit)
	}
	var since time.Time
	if o.since != "" {
		t, err := time.Parse(time.RFC3339, o.since)
		if err != nil {
			return usageErrorf("--since %q: not an RFC 3339 time (e.g. 2017-06-24T00:00:00+09:00)", o.since)
		}
		since = t
	}
	c, st, err := d.openCase(ctx, o.caseFile)
	if err != nil {
		return err
	}
	defer st.Close()
	es, err := st.AuditLog(ctx, c.ID, store.AuditFilter{UserID: o.user, Actor: o.actor, Since: since, Limit: o.limit})
	if err != nil {
		return err
	}
	if o.format == "json" {
		if es == nil {
			es = []store.AuditEntry{}
		}
		enc := json.NewEncoder(d.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(es)
	}
	// The refusal counts are the case's (no person, no account): shown
	// when the log is not narrowed to one.
	if o.user == "" && o.actor == "" && o.since == "" {
		refusals, err := st.SelfCheckRefusals(ctx, c.ID)
		if err != nil {
			return err
		}
		defer writeRefusals(d, refusals)
	}
	if len(es) == 0 {
		fmt.Fprintf(d.io.Out, "case %s: no audit entries%s\n", c.ID, map[bool]string{true: " match", false: " yet (nobody has looked anyone up)"}[o.user != "" || o.actor != "" || o.since != ""])
		return nil
	}
	tw := tabwriter.NewWriter(d.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tWHO\tROLE\tWHAT\tUSER\tFROM\tDETAIL")
	for _, e := range es {
		user := e.UserID
		if user == "" {
			user = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.In(c.Location).Format("2006-01-02 15:04:05 MST"), textsafe.Term(e.Actor),
			e.Role, e.Action, textsafe.Term(user), textsafe.Term(e.Remote), textsafe.Term(e.Detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(d.io.Out, "%d %s\n", len(es), plural(len(es), "entry", "entries"))
	return nil
}

// writeRefusals prints the self-check API's refused requests by day and
// reason (invalid, expired, replayed tokens; rate limits).
func writeRefusals(d *deps, rs []store.SelfCheckRefusal) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(d.io.Out, "\nself-check requests refused (401 or 429), by day and reason:")
	tw := tabwriter.NewWriter(d.io.Out, 0, 4, 2, ' ', 0)
	for _, r := range rs {
		fmt.Fprintf(tw, "  %s\t%s\t%d\n", r.Day.Format("2006-01-02"), r.Reason, r.Count)
	}
	tw.Flush()
}
