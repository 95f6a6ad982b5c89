package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
	"github.com/breachctl/breachctl/internal/textsafe"
)

func newLogsCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Look at access logs without a case: how breachctl reads them",
		Args:  noArgs,
	}
	cmd.AddCommand(newLogsParseCmd(d))
	return cmd
}

type logsParseOptions struct {
	format, logFormat, identity, prefix, output string
	subject, userAgent                          string
	cacheValues, fields                         map[string]string
	limit                                       int64
	files                                       []string
}

func logsParseLong() string {
	return `Parse log files as ingest would, with no case file and no database, and
print every record as breachctl reads it: time (RFC 3339, UTC, with the
precision the log has), pop, ip, method, host, path, query, status, cache
(FILL, CACHED, ORIGIN or UNKNOWN), cache_raw (the value as logged), identity,
file and line. This is how to check a format, a log_format or a
cache_values mapping before trusting a count.

Every rejected line is printed to standard error as file:line: reason, and a
summary closes the run there: lines, parsed, rejected, records by cache
class, and every cache value that is not in the format's vocabulary (add it
with --cache-values, or cache_values: in the case file), most frequent first.
"-" reads standard input.

The flags are the case file's logs[] keys: --format (format), --log-format
(log_format), --identity (identity), --cache-values (cache_values), --fields
(fields), --prefix (prefix), --subject (subject) and --user-agent
(user_agent); the last two add the columns subject and user_agent. Formats:
` + logs.FormatHelp() + `
Exit codes: 0 records were read; 1 no line parsed, or more lines were
rejected than parsed (the format is probably wrong); 2 bad usage.`
}

func newLogsParseCmd(d *deps) *cobra.Command {
	var o logsParseOptions
	cmd := &cobra.Command{
		Use:   "parse --format F [flags] FILE...",
		Short: "Print the normalised records of log files (JSONL or CSV), rejects on stderr",
		Long:  logsParseLong(),
		Example: `  breachctl logs parse --format cloudfront --limit 20 E2EXAMPLE.2017-06-22-09.abcd.gz
  breachctl logs parse --format nginx --log-format "$(grep -A3 'log_format main' nginx.conf)" access.log
  breachctl logs parse --format jsonl --fields time=ts,ip=client,path=uri,status=code,cache=cache --cache-values PASS=ORIGIN app.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.files = args
			return runLogsParse(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "", "log format (required; see above)")
	f.StringVar(&o.logFormat, "log-format", "", "nginx/Apache: the log_format line from the server's configuration")
	f.StringVar(&o.identity, "identity", "", "cookie:NAME, field:NAME or remote_user (optional: without it every record is anonymous)")
	f.StringToStringVar(&o.cacheValues, "cache-values", nil, "extra cache wordings: VALUE=FILL|CACHED|ORIGIN,...")
	f.StringToStringVar(&o.fields, "fields", nil, "jsonl: which JSON field holds what: time=ts,ip=client,...")
	f.StringVar(&o.subject, "subject", "", "where the log names whose data a response carried (read like --identity); adds a subject column")
	f.StringVar(&o.userAgent, "user-agent", "", "where the log holds the user agent (read like --identity); adds a user_agent column")
	f.StringVar(&o.prefix, "prefix", "", "regular expression stripped from the start of every line (a syslog header)")
	f.StringVar(&o.output, "output", "jsonl", "record format: jsonl or csv")
	f.Int64Var(&o.limit, "limit", 0, "read only the first N lines of each file (0: all)")
	return cmd
}

// parsedRecord is one line of logs parse's output.
type parsedRecord struct {
	Time     string `json:"time"`
	Pop      string `json:"pop"`
	IP       string `json:"ip"`
	Method   string `json:"method"`
	Host     string `json:"host"`
	Path     string `json:"path"`
	Query    string `json:"query"`
	Status   int    `json:"status"`
	Cache    string `json:"cache"`
	CacheRaw string `json:"cache_raw"`
	Identity string `json:"identity"`
	// Subject and UserAgent only with --subject / --user-agent.
	Subject   *string `json:"subject,omitempty"`
	UserAgent *string `json:"user_agent,omitempty"`
	File      string  `json:"file"`
	Line      int64   `json:"line"`
}

var parsedColumns = []string{"time", "pop", "ip", "method", "host", "path", "query", "status", "cache", "cache_raw", "identity", "file", "line"}

func (r *parsedRecord) row(subject, agent bool) []string {
	row := []string{r.Time, r.Pop, r.IP, r.Method, r.Host, r.Path, r.Query, strconv.Itoa(r.Status), r.Cache, r.CacheRaw, r.Identity, r.File, strconv.FormatInt(r.Line, 10)}
	if subject {
		row = append(row, *r.Subject)
	}
	if agent {
		row = append(row, *r.UserAgent)
	}
	return row
}

// recordPrinter is the Sink of logs parse (one worker: records come in
// file and line order).
type recordPrinter struct {
	mu      *sync.Mutex
	write   func(*parsedRecord) error
	names   []string
	classes map[logs.Cache]int64
	err     error
	// subject, agent: print those fields.
	subject, agent bool
}

func (p *recordPrinter) Record(file int, line int64, rec *logs.Record) {
	r := parsedRecord{
		Time: time.Unix(0, rec.Time).UTC().Format(time.RFC3339Nano),
		Pop:  logs.Text(rec.Pop), IP: logs.Text(rec.ClientIP), Method: logs.Text(rec.Method), Host: logs.Text(rec.Host),
		Path: logs.Text(rec.Path), Query: logs.Text(rec.Query), Status: rec.Status,
		Cache: rec.Cache.String(), CacheRaw: logs.Text(rec.CacheRaw), Identity: logs.Text(rec.Identity),
		File: p.names[file], Line: line,
	}
	if p.subject {
		v := logs.Text(rec.Subject)
		r.Subject = &v
	}
	if p.agent {
		v := logs.Text(rec.UserAgent)
		r.UserAgent = &v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.classes[rec.Cache]++
	if p.err == nil {
		p.err = p.write(&r)
	}
}

func runLogsParse(ctx context.Context, d *deps, o logsParseOptions) error {
	if o.format == "" {
		return usageErrorf("logs parse needs --format; one of:\n%s", logs.FormatHelp())
	}
	if len(o.files) == 0 {
		return usageErrorf("logs parse needs one or more files (\"-\" for standard input)")
	}
	if o.output != "jsonl" && o.output != "csv" {
		return usageErrorf("--output %q: use jsonl or csv", o.output)
	}
	if o.limit < 0 {
		return usageErrorf("--limit must not be negative")
	}
	src := incident.LogSource{Paths: o.files, Format: o.format, LogFormat: o.logFormat, Identity: o.identity,
		Fields: o.fields, CacheValues: o.cacheValues, Prefix: o.prefix, Subject: o.subject, UserAgent: o.userAgent}
	p, err := logs.NewParser(src)
	if err != nil {
		return usageErrorf("%v", err)
	}
	caps := logs.CapabilitiesOf(p)
	if !caps.Cache {
		f, _ := logs.LookupFormat(o.format)
		fmt.Fprintf(d.io.Err, "note: these logs have no cache result, so no record can be CACHED or FILL: %s\n", f.CacheHint)
	}
	if !caps.Identity && o.identity != "" {
		fmt.Fprintf(d.io.Err, "note: these logs do not log the identity %s: every record is anonymous\n", textsafe.Term(o.identity))
	}
	inputs := make([]logs.Input, len(o.files))
	names := make([]string, len(o.files))
	for i, f := range o.files {
		path, name := f, logs.TextString(f)
		if f == "-" {
			sp, _, _, err := logs.SpoolContext(ctx, d.io.In, "")
			if err != nil {
				return err
			}
			defer os.Remove(sp)
			path, name = sp, "-"
		}
		inputs[i] = logs.Input{Path: path, Name: name, Parser: p}
		names[i] = name
	}

	bw := bufio.NewWriterSize(d.io.Out, 64<<10)
	var write func(*parsedRecord) error
	var cw *csv.Writer
	if o.output == "csv" {
		cw = csv.NewWriter(bw)
		cols := slices.Clone(parsedColumns)
		if o.subject != "" {
			cols = append(cols, "subject")
		}
		if o.userAgent != "" {
			cols = append(cols, "user_agent")
		}
		if err := cw.Write(cols); err != nil {
			return err
		}
		write = func(r *parsedRecord) error { return cw.Write(r.row(o.subject != "", o.userAgent != "")) }
	} else {
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		write = func(r *parsedRecord) error { return enc.Encode(r) }
	}
	var mu sync.Mutex
	errw := bufio.NewWriter(d.io.Err)
	printer := &recordPrinter{mu: &mu, write: write, names: names, classes: map[logs.Cache]int64{},
		subject: o.subject != "", agent: o.userAgent != ""}
	stats, err := logs.Read(ctx, inputs, logs.Options{
		Workers: 1, Readers: 1, MaxLines: o.limit,
		NewSink: func(int) logs.Sink { return printer },
		OnReject: func(file int, r logs.Reject) {
			mu.Lock()
			fmt.Fprintf(errw, "%s:%d: %s\n", textsafe.Term(names[file]), r.Line, textsafe.Term(r.Reason))
			mu.Unlock()
		},
	})
	if cw != nil {
		cw.Flush()
		if printer.err == nil {
			printer.err = cw.Error()
		}
	}
	if ferr := bw.Flush(); printer.err == nil {
		printer.err = ferr
	}
	if err != nil {
		errw.Flush()
		return err
	}
	if printer.err != nil {
		errw.Flush()
		return fmt.Errorf("write records: %w", printer.err)
	}
	sum := summariseParse(errw, names, stats, printer.classes, o.limit)
	if err := errw.Flush(); err != nil {
		return err
	}
	switch {
	case sum.Parsed == 0:
		return fmt.Errorf("no line parsed as %s: check --format and its configuration (the rejects above say why)", o.format)
	case sum.Rejected > sum.Parsed:
		return fmt.Errorf("more lines rejected (%d) than parsed (%d): check --format and its configuration", sum.Rejected, sum.Parsed)
	}
	return nil
}

// summariseParse writes logs parse's closing summary and returns the totals.
func summariseParse(w io.Writer, names []string, stats []logs.FileStats, classes map[logs.Cache]int64, limit int64) logs.FileStats {
	var t logs.FileStats
	records := 0 // files read as JSON records (an array, or pretty-printed records): each record counts as one line
	for i, s := range stats {
		if s.Records {
			records++
		}
		if s.Truncated {
			fmt.Fprintf(w, "%s: TRUNCATED: %s; %d lines read before the cut\n", textsafe.Term(names[i]), textsafe.Term(s.ReadError), s.Lines)
		}
		if len(stats) > 1 {
			unit := "lines"
			if s.Records {
				unit = "JSON records" // an array or pretty-printed records: each counts as one
			}
			fmt.Fprintf(w, "%s: %d %s, %d parsed, %d rejected\n", textsafe.Term(names[i]), s.Lines, unit, s.Parsed, s.Rejected)
		}
		t.Lines += s.Lines
		t.Parsed += s.Parsed
		t.Rejected += s.Rejected
		incident.AddCounts(&t.UnknownCache, s.UnknownCache)
	}
	scope := ""
	if limit > 0 {
		scope = fmt.Sprintf(" (the first %d of each file)", limit)
	}
	unit := "lines"
	switch {
	case records == len(stats):
		unit = "JSON records"
	case records > 0:
		unit = "lines and JSON records"
	}
	fmt.Fprintf(w, "%d files, %d %s%s: %d parsed, %d rejected\n", len(stats), t.Lines, unit, scope, t.Parsed, t.Rejected)
	fmt.Fprintf(w, "cache: FILL %d, CACHED %d, ORIGIN %d, UNKNOWN %d\n", classes[logs.CacheFill], classes[logs.CacheCached], classes[logs.CacheOrigin], classes[logs.CacheUnknown])
	if len(t.UnknownCache) > 0 {
		fmt.Fprintf(w, "unknown cache values (neither hits nor fills until mapped with --cache-values or cache_values:): %s\n", incident.CountList(t.UnknownCache, 0))
	}
	return t
}
