package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/ingest"
	"github.com/breachctl/breachctl/incident/logs"
	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/internal/progress"
	"github.com/breachctl/breachctl/internal/textsafe"
)

type ingestOptions struct {
	caseFile       string
	margin         time.Duration
	allowTruncated bool
	workers        int
	dryRun         bool
	memoryLimit    string
	rejects        int
	engine         string
	loaded         bool
}

const ingestLong = `Parse the case's access logs, correlate and resolve them, and store the
result as a new numbered run of the case (earlier runs are kept, so a revised
count never overwrites the one reported before it).

Every input file is hashed (SHA-256) and recorded as evidence before it is
parsed. Every line is accounted for: parsed + rejected == lines, and the first
20 rejected lines of each file are kept with their line number and reason.
Lines outside the declared window ± --margin are counted, not kept. Files are
read in parallel on every core; gzip is detected by its magic bytes, whatever
the file is called; "-" as a path reads standard input (kept as a 0600 file
in $TMPDIR; a dry run removes it). Only regular files are read: a FIFO, a
device or a socket is refused (pipe into "-" instead).

An interrupt (Ctrl-C, SIGTERM) stops every stage; the run is marked
interrupted and ingest exits 1. A second interrupt ends it at once.

A truncated gzip file (or one that cannot be read to the end) is counted up to
the cut, and makes ingest exit 1 unless --allow-truncated.

gzip files are decompressed by igzip (Intel ISA-L, Debian package "isal")
when it is installed — about 2.5 times faster — else by the built-in reader.
BREACHCTL_GUNZIP=builtin forces the built-in reader; BREACHCTL_GUNZIP=PATH
names another igzip.

Running ingest again on the same evidence gives a new run with identical
content.

--engine says where the cache lineage (whose page each cached response was)
is computed: streaming (default, in this process), postgres (as SQL in the
case database), or citus (as SQL on the workers of a Citus cluster whose
coordinator is the case database, --db: the responses are distributed by
pop and cache key, one task per shard). All three give the same run;
identities, levels, categories and viewers follow in this process either
way.

--loaded makes the run from the case's loads instead of parsing anything
here: when the logs are on several machines, each one runs breachctl load on
its share (see load --help), then ingest --loaded correlates them all as one
run, its evidence the loads' files (numbered as one ingest of them all would
number them). It needs --engine postgres or citus, as the loads were made.`

func newIngestCmd(d *deps) *cobra.Command {
	var o ingestOptions
	cmd := &cobra.Command{
		Use:     "ingest -f incident.yaml",
		Short:   "Parse, correlate and resolve the logs into a new numbered run",
		Long:    ingestLong,
		Example: "  breachctl ingest -f incident.yaml\n  zcat old/*.gz | breachctl ingest -f stdin-case.yaml   # a logs[].paths entry of \"-\"",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.loaded && cmd.Flags().Changed("margin") {
				return usageErrorf("--margin with --loaded: a run of loads keeps the margin they were loaded with (breachctl load --margin)")
			}
			return runIngest(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.DurationVar(&o.margin, "margin", ingest.DefaultMargin, "keep lines this long before window.start and after window.end")
	f.BoolVar(&o.allowTruncated, "allow-truncated", false, "accept truncated input files (their lines before the cut are used)")
	f.IntVar(&o.workers, "workers", 0, "parsing goroutines (default: one per core)")
	f.StringVar(&o.memoryLimit, "memory-limit", "900MiB", "soft memory limit for the Go heap (e.g. 900MiB, 4GiB; 0 = none; GOMEMLIMIT, when set, wins): above it garbage is collected harder, nothing fails")
	f.StringVar(&o.engine, "engine", "streaming", "where the cache lineage is computed: streaming, postgres or citus (see above)")
	f.BoolVar(&o.loaded, "loaded", false, "correlate the case's loads (breachctl load on each machine) instead of parsing logs here; needs --engine postgres or citus")
	f.BoolVar(&o.dryRun, "dry-run", false, "parse, hash and account for every line, then stop: nothing is correlated or stored (no database needed; the case file needs only id, timezone, window and logs)")
	f.IntVar(&o.rejects, "rejects", 3, fmt.Sprintf("list this many rejected lines of each file (a run keeps the first %d of each in the case database; a dry run keeps what it lists)", logs.MaxRejectsKept))
	return cmd
}

func runIngest(ctx context.Context, d *deps, o ingestOptions) error {
	if o.margin < 0 {
		return usageErrorf("--margin must not be negative")
	}
	if o.rejects < 0 {
		return usageErrorf("--rejects must not be negative")
	}
	switch o.engine {
	case "", "streaming", "postgres", "citus":
	default:
		return usageErrorf("--engine %q: use streaming, postgres or citus", o.engine)
	}
	if o.loaded && (o.engine == "" || o.engine == "streaming") {
		return usageErrorf("--loaded: the loads are correlated in the database: add --engine citus (or postgres, as they were loaded)")
	}
	if o.loaded && o.dryRun {
		return usageErrorf("--loaded and --dry-run: a load already parsed its files; breachctl load -f CASE --list shows them")
	}
	limit, err := parseSize(o.memoryLimit)
	if err != nil {
		return usageErrorf("--memory-limit %q: %v", o.memoryLimit, err)
	}
	if _, set := d.getenv("GOMEMLIMIT"); !set && limit > 0 {
		prev := debug.SetMemoryLimit(limit)
		defer debug.SetMemoryLimit(prev)
	}
	if o.dryRun {
		// A dry run reads only the logs: the case file needs only id,
		// timezone, window and logs[] (validate and a real ingest need all).
		if o.caseFile == "" {
			return usageErrorf("no case file: pass -f incident.yaml")
		}
		c, err := incident.LoadForScan(o.caseFile, d.getenv, logs.CaseProblems)
		if err != nil {
			return err
		}
		return runScan(ctx, d, c, o)
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
	var read atomic.Int64
	var bar *progress.Bar
	gunzip, err := d.gunzip()
	if err != nil {
		return err
	}
	opts := ingest.Options{
		Margin: o.margin, AllowTruncated: o.allowTruncated, Workers: o.workers, Gunzip: gunzip, ConnectUsers: d.connectUsers, Engine: o.engine,
		Stdin: d.io.In, Logger: d.logger(), Progress: &read,
		OnStart: func(total int64, files int) {
			bar = progress.Start(d.io.Err, d.io.ErrIsTerminal, total, fmt.Sprintf("ingesting %d files", files), true, &read)
		},
	}
	var res *ingest.Result
	if o.loaded {
		res, err = ingest.RunLoaded(ctx, st, c, opts)
	} else {
		res, err = ingest.Run(ctx, st, c, opts)
	}
	bar.Stop()
	var ie *ingest.InterruptedError
	if errors.As(err, &ie) {
		return err // its counts are partial: not shown
	}
	if res != nil {
		printIngest(d, c, res, o.rejects)
		for _, l := range res.Loads {
			fmt.Fprintf(d.io.Out, "  from load %d (host %s, %s): %d files, %d lines\n", l.Load, textsafe.Term(l.Host),
				l.StartedAt.UTC().Format(time.RFC3339), l.Files, l.Lines)
		}
	}
	var te *ingest.TruncatedError
	if errors.As(err, &te) {
		return fmt.Errorf("run %d is marked failed: %w", res.Run, err)
	}
	if err != nil {
		return err
	}
	if o.loaded {
		fmt.Fprintf(d.io.Out, "the loads keep the requesters' identities as logged: drop them when no further run needs them (breachctl load -f %s --drop all)\n", o.caseFile)
	}
	fmt.Fprintf(d.io.Out, "next: breachctl triage -f %s\n", o.caseFile)
	return nil
}

// runScan is ingest --dry-run.
func runScan(ctx context.Context, d *deps, c *incident.Case, o ingestOptions) error {
	gunzip, err := d.gunzip()
	if err != nil {
		return err
	}
	var read atomic.Int64
	var bar *progress.Bar
	res, err := ingest.Scan(ctx, c, ingest.Options{
		Margin: o.margin, Workers: o.workers, Gunzip: gunzip, Stdin: d.io.In, Logger: d.logger(), Progress: &read, Rejects: o.rejects,
		OnStart: func(total int64, files int) {
			bar = progress.Start(d.io.Err, d.io.ErrIsTerminal, total, fmt.Sprintf("scanning %d files", files), true, &read)
		},
	})
	bar.Stop()
	var ie *ingest.InterruptedError
	if res != nil && !errors.As(err, &ie) {
		printIngest(d, c, res, o.rejects)
		fmt.Fprintf(d.io.Out, "dry run: nothing was correlated or stored\n")
	}
	return err
}

// parseSize parses 900MiB, 2GiB, 1500MB, 1G or a plain number of bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size such as 900MiB or 2GiB, or 0")
	}
	return int64(n * float64(mult)), nil
}

// gunzip picks the gzip decompressor: BREACHCTL_GUNZIP (builtin, or a path),
// else igzip when it is on PATH, else the built-in reader.
func (d *deps) gunzip() (string, error) {
	switch v := d.env("BREACHCTL_GUNZIP"); v {
	case "builtin":
		return "", nil
	case "", "auto":
		if p, err := exec.LookPath("igzip"); err == nil {
			return p, nil
		}
		return "", nil
	default:
		p, err := exec.LookPath(v)
		if err != nil {
			return "", usageErrorf("BREACHCTL_GUNZIP=%s: %v (use builtin, auto, or the path of igzip)", v, err)
		}
		return p, nil
	}
}

func printIngest(d *deps, c *incident.Case, res *ingest.Result, rejects int) {
	w := d.io.Out
	t := res.Totals
	var bytes int64
	for _, f := range res.Files {
		bytes += f.Bytes
	}
	rate := ""
	if s := res.Elapsed.Seconds(); s > 0 {
		rate = fmt.Sprintf(", %.2f M lines/s", float64(t.Lines)/s/1e6)
	}
	runName := fmt.Sprintf("run %d", res.Run)
	if res.Run == 0 {
		runName = "dry run"
	}
	fmt.Fprintf(w, "case %s, %s: %d files (%s), %d lines in %s%s\n", c.ID, runName, t.Files,
		incident.HumanBytes(bytes), t.Lines, res.Elapsed.Round(time.Millisecond), rate)
	fmt.Fprintf(w, "  parsed %d, rejected %d, outside the window ± margin %d (parsed + rejected = lines)\n", t.Parsed, t.Rejected, t.OutsideWindow)
	printCaseWarnings(w, "  ", c)
	if res.Correlation != nil {
		printRules(w, c, res.Correlation.Summary.Rules)
	}
	if d.verbose && len(res.Timings) > 0 {
		var parts []string
		for _, k := range []string{"read", "evidence", "upload", "group", "lineage", "resolve.sessions", "resolve", "evaluate", "store"} {
			if v, ok := res.Timings[k]; ok {
				parts = append(parts, fmt.Sprintf("%s %s", k, v.Round(time.Millisecond)))
			}
		}
		fmt.Fprintf(w, "  timings: %s\n", strings.Join(parts, ", "))
	}
	const maxRejectLines = 8 // triage --format json has every file's rejects
	shown, hidden := 0, 0
	for _, f := range res.Files {
		s := f.Stats
		if s.Truncated {
			fmt.Fprintf(w, "  TRUNCATED %s: %s; %d lines counted before the cut\n", textsafe.Term(f.Name), textsafe.Term(s.ReadError), s.Lines)
		}
		if len(s.Rejects) > 0 {
			if shown == maxRejectLines && !d.verbose {
				hidden++
			} else {
				shown++
				fmt.Fprintf(w, "  %s: %d rejected, first at line %d: %s\n", textsafe.Term(f.Name), s.Rejected, s.Rejects[0].Line, textsafe.Term(s.Rejects[0].Reason))
				for i := 1; i < min(rejects, len(s.Rejects)); i++ {
					fmt.Fprintf(w, "    then line %d: %s\n", s.Rejects[i].Line, textsafe.Term(s.Rejects[i].Reason))
				}
			}
		}
		if len(f.UnknownCache) > 0 {
			fmt.Fprintf(w, "  %s: unknown cache results (not used as hits or fills; map them with logs[].cache_values): %s\n",
				textsafe.Term(f.Name), incident.CountList(f.UnknownCache, 0))
		}
	}
	if len(res.Files) > 1 && len(t.UnknownCache) > 0 {
		fmt.Fprintf(w, "  unknown cache results in all files: %s\n", incident.CountList(t.UnknownCache, 10))
	}
	if hidden > 0 {
		fmt.Fprintf(w, "  ... and %d more files with rejected lines (-v lists them; triage --format json has every file's first rejects)\n", hidden)
	}
	if res.Correlation != nil && len(res.Correlation.Refused) > 0 {
		max := 20
		if d.verbose {
			max = 0
		}
		fmt.Fprintf(w, "  refused %d people: their user record was not used, they get no notice (fix the records and ingest again):\n", len(res.Correlation.Refused))
		for _, l := range triage.RefusalLines(res.Correlation.Refused, max) {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

// printRules prints what each rule found when the case has more than the
// cache rule, and warns of a rule that matched no request.
func printRules(w io.Writer, c *incident.Case, rules []correlate.RuleSummary) {
	if len(rules) == 1 && rules[0].Kind == incident.RuleCache {
		return
	}
	for i, r := range rules {
		fmt.Fprintf(w, "  rule %s (%s): %d confirmed, %d possible; %d exposure events from %d requests\n",
			textsafe.Term(r.Name), r.Kind, r.Confirmed, r.Possible, r.ExposureEvents, r.Matched)
		if r.Matched == 0 {
			what := "its routes, statuses and range matched no request: check them against the logs (breachctl logs parse)"
			if r.Kind == incident.RuleActor {
				what = "no request came from the listed actors (or reached the login threshold): check the addresses, networks and user agents against the logs"
			}
			fmt.Fprintf(w, "  WARNING exposure.rules[%d] (rule %s): %s\n", i, textsafe.Term(r.Name), what)
		}
	}
}
