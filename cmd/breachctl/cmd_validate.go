package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/internal/textsafe"
)

type validateOptions struct {
	caseFile string
	fileOnly bool
}

const validateLong = `Check a case file and everything it points at, and say what is wrong.

First the case file itself: every problem is listed at once with its YAML
path, its line and what is expected (unknown keys, times, time zones, data
categories, formats, routes, queries), and the exit code is 2. ${VAR} in a
value is replaced by the environment variable VAR.

Then the environment: the case database and the user database are reached
(users_query and sessions_query are run with an empty batch inside a
read-only transaction to check their columns), every log glob must match at
least one file and only regular files (a FIFO, a device or a socket is
refused), and the first 1,000 lines of each file are parsed by its logs[]
entry's parser, exactly as ingest will parse them. Each file's parse rate,
up to 3 rejected lines (line: reason) and its unknown cache results (values
not in the format's vocabulary, most frequent first) are shown; a file of
which half the lines or more are rejected fails. 'breachctl logs parse'
shows every line of a file. A failed check exits 1.

Data categories: name, email, phone, postal_address, date_of_birth,
bank_account, payment_card, purchase_history, account_balance, government_id,
credentials, health.`

func newValidateCmd(d *deps) *cobra.Command {
	var o validateOptions
	cmd := &cobra.Command{
		Use:     "validate -f incident.yaml",
		Short:   "Check the case file, both databases and the log files",
		Long:    validateLong + "\n\nLog formats (logs[].format; the README has each one's cache mapping and an example):\n" + logs.FormatHelp(),
		Example: "  breachctl validate -f incident.yaml\n  breachctl validate -f incident.yaml --file-only   # no database or log access",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runValidate(cmd.Context(), d, o)
		},
	}
	cmd.Flags().StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	cmd.Flags().BoolVar(&o.fileOnly, "file-only", false, "check only the case file, not the databases or logs")
	return cmd
}

func runValidate(ctx context.Context, d *deps, o validateOptions) error {
	c, err := d.loadCase(o.caseFile)
	if err != nil {
		return err
	}
	parsers, err := logs.CheckCase(c)
	if err != nil {
		return err
	}
	loc := c.Location
	fmt.Fprintf(d.io.Out, "ok    case file %s: case %s, window %s (%s)\n", textsafe.Term(o.caseFile), c.ID,
		triage.Span(c.Start, c.End, loc, "15:04"), c.End.Sub(c.Start).Round(time.Minute))
	printCaseWarnings(d.io.Out, "", c)
	if o.fileOnly {
		return nil
	}
	checks := incident.CheckEnvironment(ctx, c, incident.CheckDeps{
		CaseDB: func(ctx context.Context) (string, error) {
			u, err := d.caseDBURL()
			if err != nil {
				return "", err
			}
			db, err := store.Connect(ctx, u)
			if err != nil {
				return "", fmt.Errorf("%s: %w", store.Redact(u), err)
			}
			defer db.Close()
			s := &store.Store{DB: db}
			v, err := s.Version(ctx)
			if err != nil {
				return fmt.Sprintf("%s reachable; schema not created yet (ingest or 'breachctl db migrate' creates it)", store.Redact(u)), nil
			}
			return fmt.Sprintf("%s reachable, schema version %d", store.Redact(u), v), nil
		},
		UsersDB: d.connectUsers,
		Sample:  sampleWith(parsers),
	})
	failed := 0
	for _, ch := range checks {
		mark := "ok   "
		if !ch.OK {
			mark = "FAIL "
			failed++
		}
		// Names and details hold file names and log lines: escaped, so
		// neither can forge a line.
		fmt.Fprintf(d.io.Out, "%s %s: %s\n", mark, textsafe.Term(ch.Name), textsafe.Term(ch.Detail))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d checks failed (see above)", failed, len(checks)+1)
	}
	fmt.Fprintf(d.io.Out, "all %d checks passed\n", len(checks)+1)
	return nil
}

// sampleWith parses the first lines of a file with the parser of its logs[]
// entry, through ingest's reader (gzip, header lines, the line limit).
func sampleWith(parsers []logs.Parser) incident.SampleFunc {
	return func(ctx context.Context, f incident.InputFile, maxLines int64) (incident.LogSample, error) {
		stats, err := logs.Read(ctx, []logs.Input{{Path: f.Path, Name: f.Rel, Parser: parsers[f.Source]}},
			logs.Options{Workers: 1, Readers: 1, MaxLines: maxLines, KeepRejects: 3})
		if err != nil {
			return incident.LogSample{}, err
		}
		s := stats[0]
		out := incident.LogSample{Compressed: s.Compressed, Lines: s.Lines, Parsed: s.Parsed, Rejected: s.Rejected,
			ReadError: s.ReadError}
		for _, r := range s.Rejects {
			out.Rejects = append(out.Rejects, incident.LogReject{Line: r.Line, Reason: r.Reason})
		}
		for k, v := range s.UnknownCache {
			if out.Unknown == nil {
				out.Unknown = map[string]int64{}
			}
			out.Unknown[logs.TextString(k)] += v
		}
		return out, nil
	}
}

// printCaseWarnings prints the case file's warnings, one line each.
func printCaseWarnings(w io.Writer, prefix string, c *incident.Case) {
	for _, p := range c.Warnings {
		fmt.Fprintf(w, "%swarning: %s\n", prefix, textsafe.Term(p.String()))
	}
}
