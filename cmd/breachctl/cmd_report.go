package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/report"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/safefile"
)

type reportOptions struct {
	caseFile  string
	kind      string
	format    string
	out       string
	run       int
	templates string
	now       string
}

const reportLong = `Write a regulator report for the case, from the evidence.

Kinds:
  appi-preliminary  Japan, APPI: preliminary report (速報) to the PPC, in Japanese
  appi-final        Japan, APPI: final report (確報), the nine items of Rules Art. 8(1)
  gdpr-art33        EU, GDPR Art. 33: notification to the supervisory authority, items (a)-(d)
  us-ca-ag          California, Civ. Code §1798.82: the sample notice for the Attorney General
  hipaa-hhs         US, HIPAA: breach report to HHS (45 CFR 164.408)
  uk-ico            UK GDPR Art. 33: report to the ICO, items (a)-(d), UK residents
  sec-8k            US SEC: draft Form 8-K Item 1.05 disclosure, for counsel
  au-oaic           Australia, NDB scheme: statement to the OAIC (item list to check)
  kr-pipc           Korea, PIPA Art. 34: report to the PIPC/KISA, in Korean
  br-anpd           Brazil, LGPD Art. 48: communication to the ANPD, in Portuguese
  substitute-notice Public substitute notice: web page text and press release, in English
                    (HIPAA: 90 days on the website; toll-free number when health data); no personal data
  substitute-notice-ja  The same in Japanese

Every item of the law's list is there: one the case file cannot fill says so
("not yet known") instead of being left out. The numbers (people confirmed /
possible / total, by category, by region) come from the run (the latest by
default), which the report names with the evidence files' SHA-256; the status
of the notices to individuals comes from the delivery ledger. Reports carry
aggregates only: no personal data.

Every report written is recorded in the case database (kind, run, format,
date, numbers, SHA-256 of the output). A report written from a later run
than an earlier one of its family (APPI preliminary or final -> final;
every other kind -> the same kind) says which figures changed
and from what, naming the earlier report: APPI in Japanese in items 2 and 3
and a 前回報告からの変更 section; GDPR as an Art. 33(4) supplementary
notification; California as an updated sample notice; HIPAA as an addendum;
JSON in "revision": {"previous": {...}, "changes": [{"figure", "from", "to"}]}.

Markdown by default; --format html writes one self-contained page, json the
structure in DESIGN.md. Templates can be overridden with --templates DIR (a
file there replaces the built-in file of the same name).`

func newReportCmd(d *deps) *cobra.Command {
	var o reportOptions
	cmd := &cobra.Command{
		Use:   "report -f incident.yaml --kind KIND [--format md|html|json]",
		Short: "Write a regulator report (APPI, GDPR, UK ICO, California AG, HIPAA, SEC 8-K, OAIC, PIPC, ANPD)",
		Long:  reportLong,
		Example: `  breachctl report -f incident.yaml --kind appi-preliminary
  breachctl report -f incident.yaml --kind gdpr-art33 --format html -o art33.html`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReport(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.kind, "kind", "", "report kind: "+strings.Join(report.Kinds, ", "))
	f.StringVar(&o.format, "format", "md", "output format: md, html or json")
	f.StringVarP(&o.out, "output", "o", "", "write to FILE (mode 0600) instead of standard output")
	f.IntVar(&o.run, "run", 0, "report on this run instead of the latest")
	f.StringVar(&o.templates, "templates", "", "directory of template files overriding the built-in ones")
	f.StringVar(&o.now, "now", "", "the time the report is made (RFC 3339; default now)")
	return cmd
}

func runReport(ctx context.Context, d *deps, o reportOptions) error {
	if !contains(report.Kinds, o.kind) {
		return usageErrorf("--kind %q: use one of %s", o.kind, strings.Join(report.Kinds, ", "))
	}
	if o.format != "md" && o.format != "html" && o.format != "json" {
		return usageErrorf("--format %q: use md, html or json", o.format)
	}
	in, closeFn, err := reportInput(ctx, d, o.caseFile, o.run, o.now, o.templates)
	if err != nil {
		return err
	}
	defer closeFn()
	r, err := report.Build(o.kind, in.Input)
	if err != nil {
		return err
	}
	write := r.WriteMarkdown
	switch o.format {
	case "html":
		write = r.WriteHTML
	case "json":
		write = r.WriteJSON
	}
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return err
	}
	if o.out == "" {
		if _, err := d.io.Out.Write(b.Bytes()); err != nil {
			return err
		}
	} else {
		if err := safefile.Write(o.out, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
			return err
		}
		fmt.Fprintf(d.io.Err, "wrote %s\n", o.out)
	}
	return recordReport(ctx, in.Store, r, o.format, b.Bytes())
}

// recordReport records a written report (kind, run, format, date, numbers,
// SHA-256 of the output), so a later report of its family can say which
// figures changed and from what.
func recordReport(ctx context.Context, st *store.Store, r *report.Report, format string, out []byte) error {
	nums, err := r.NumbersJSON()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(out)
	_, err = st.RecordReport(ctx, store.ReportRecord{CaseID: r.CaseID, Kind: r.Kind, Run: r.Run, Format: format,
		GeneratedAt: r.GeneratedAt, NumbersJSON: nums, SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		return fmt.Errorf("the %s report of run %d was written but not recorded, so a later report cannot say what changed since it: %w; write it again when the case database is reachable", r.Kind, r.Run, err)
	}
	return nil
}

// caseInput is a report's input and the case store it came from.
type caseInput struct {
	report.Input
	Store *store.Store
}

// reportInput gathers what reports and obligations are computed from: the
// run, its evidence and ledger, the reports recorded so far, the run's
// determination time (the run's own, else the case file's) and the update
// notices the run calls for.
func reportInput(ctx context.Context, d *deps, file string, run int, now, templates string) (*caseInput, func(), error) {
	at := d.now()
	if now != "" {
		t, err := time.Parse(time.RFC3339, now)
		if err != nil {
			return nil, nil, usageErrorf("--now %q: give an RFC 3339 time, e.g. 2017-06-25T09:00:00+09:00", now)
		}
		at = t
	}
	c, st, r, err := d.openRun(ctx, file, run)
	if err != nil {
		return nil, nil, err
	}
	in, err := runInput(ctx, st, c, r, at, templates)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return &caseInput{Input: in, Store: st}, func() { st.Close() }, nil
}

// runInput reads a completed run's report input from the case database.
func runInput(ctx context.Context, st *store.Store, c *incident.Case, r *store.Run, at time.Time, templates string) (report.Input, error) {
	affected, err := st.ListAffected(ctx, c.ID, r.Run)
	if err != nil {
		return report.Input{}, err
	}
	evidence, err := st.ListEvidence(ctx, c.ID, r.Run)
	if err != nil {
		return report.Input{}, err
	}
	del, err := deliveryOf(ctx, st, c, r.Run)
	if err != nil {
		return report.Input{}, err
	}
	reports, err := st.Reports(ctx, c.ID)
	if err != nil {
		return report.Input{}, err
	}
	updates, err := updatesOf(ctx, st, c.ID, r.Run, affected)
	if err != nil {
		return report.Input{}, err
	}
	in := report.Input{Case: c, Run: r.Run, Affected: affected, Evidence: evidence, Delivery: del,
		Now: at, TemplatesDir: templates, Reports: reports, Updates: updates}
	switch {
	case r.DeterminedAt.Valid:
		in.Determined, in.DeterminedBy = r.DeterminedAt.Time, fmt.Sprintf("run %d", r.Run)
	case !c.Determined.IsZero():
		in.Determined, in.DeterminedBy = c.Determined, "case file"
	}
	return in, nil
}

// updatesOf works out who is owed an update notice for run: from the last
// notice sent to each person (the ledger) and the affected rows of the runs
// those notices described.
func updatesOf(ctx context.Context, st *store.Store, caseID string, run int, cur []store.AffectedAccount) (*report.Updates, error) {
	last, err := st.LastSentNotices(ctx, caseID)
	if err != nil {
		return nil, err
	}
	told := make(map[string]report.Told, len(last))
	for u, l := range last {
		told[u] = report.Told{Kind: l.Kind, BasisRun: l.BasisRun, SentAt: l.SentAt}
	}
	rows := map[int]map[string]*store.AffectedAccount{}
	return report.UpdatesOf(run, cur, told, func(n int) (map[string]*store.AffectedAccount, error) {
		if m, ok := rows[n]; ok {
			return m, nil
		}
		aff, err := st.ListAffected(ctx, caseID, n)
		if err != nil {
			return nil, err
		}
		m := make(map[string]*store.AffectedAccount, len(aff))
		for i := range aff {
			m[aff[i].UserID] = &aff[i]
		}
		rows[n] = m
		return m, nil
	})
}

// deliveryOf summarises the delivery ledger of a run for reports, by
// person across the channels (with e-mail alone, a person is a notice):
// reached on some channel, with a notice still to go on one (a letter the
// law requires after the e-mail went out), in doubt, or not reached.
func deliveryOf(ctx context.Context, st *store.Store, c *incident.Case, run int) (report.Delivery, error) {
	r, err := st.ReachOf(ctx, c.ID, run)
	if err != nil {
		return report.Delivery{}, err
	}
	first, last, err := st.SentSpan(ctx, c.ID, run)
	if err != nil {
		return report.Delivery{}, err
	}
	return report.Delivery{Total: r.People, Sent: r.Reached, Failed: r.Unreached, Pending: r.Open, Uncertain: r.Uncertain,
		FirstSent: first, LastSent: last}, nil
}

type obligationsOptions struct {
	caseFile string
	format   string
	run      int
	now      string
}

const obligationsLong = `Which laws the exposure triggers, what each requires, for how many people,
by when, and whether it is done.

Computed from the run's affected accounts (country, region, data categories,
levels, counts) and the case file (discovered_at, determined_at, cause_kind,
organisation). Each duty names the clock it runs from (FROM; JSON "clock"):
discovered_at (awareness: most duties), determined_at (Texas: the run's
determination from 'runs --determine', else the case file's; without one,
discovered_at), notices_sent (the California AG sample), and the decision
clocks materiality_determined_at (SEC), assessed_at (Singapore),
classified_at (DORA); a missing one falls back to discovered_at and the duty
says which field to set. Duties: APPI (report to the PPC: preliminary and final;
notices to individuals), GDPR Art. 33 (72 hours) and Art. 34, California
(residents within 30 days; the Attorney General sample when more than 500),
other US states with fixed clocks (NY, CO, FL, WA, TX, DE) and regulator
notices (TX, PA, OK, UT), HIPAA when health data is involved; UK GDPR, Korea,
Singapore, Australia, Canada and Quebec, India (from 13 May 2027), Brazil by
the people's countries; SEC 8-K, NY DFS, FTC Safeguards and Health Breach
rules, NIS2, DORA and China's CAC by the case file's organization flags.
Business days skip weekends and the case file's calendar.holidays.

Status: done, due, overdue on the clock (--now sets it), or check (no fixed
deadline: the trigger says what to check). Notices to individuals are done
when the delivery ledger shows them all sent.

Update notices: people told under an earlier run whose exposure grew in this
one (a new category, possible -> confirmed) are owed an update notice, due
under the same clock and deadline as the first notices: one "... -update"
duty per law with notices to individuals, counting the people of its scope.`

func newObligationsCmd(d *deps) *cobra.Command {
	var o obligationsOptions
	cmd := &cobra.Command{
		Use:     "obligations -f incident.yaml [--format text|json]",
		Short:   "Which laws are triggered, for whom, with deadlines and status",
		Long:    obligationsLong,
		Example: "  breachctl obligations -f incident.yaml\n  breachctl obligations -f incident.yaml --format json | jq '.[] | select(.status != \"done\")'",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runObligations(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	f.IntVar(&o.run, "run", 0, "use this run instead of the latest")
	f.StringVar(&o.now, "now", "", "evaluate deadlines at this time (RFC 3339; default now)")
	return cmd
}

func runObligations(ctx context.Context, d *deps, o obligationsOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--format %q: use text or json", o.format)
	}
	in, closeFn, err := reportInput(ctx, d, o.caseFile, o.run, o.now, "")
	if err != nil {
		return err
	}
	defer closeFn()
	obs := report.Obligations(in.Input)
	if o.format == "json" {
		return report.WriteObligationsJSON(d.io.Out, obs)
	}
	return report.WriteObligationsText(d.io.Out, obs, in.Now)
}
