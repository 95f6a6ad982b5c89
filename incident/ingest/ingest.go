// Package ingest runs breachctl's ingest: every input file is hashed and
// recorded as evidence, then parsed in parallel with every line accounted
// for; the result is stored as a new numbered run of the case.
package ingest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/logs"
	"github.com/breachctl/breachctl/incident/store"
)

// DefaultMargin is how far before and after the declared window lines are kept.
const DefaultMargin = time.Hour

// Options tune an ingest.
type Options struct {
	// Margin: lines this long before window.start and after window.end
	// are kept. Zero keeps the window only (callers wanting the default
	// pass DefaultMargin).
	Margin         time.Duration
	AllowTruncated bool      // a truncated input does not fail the run
	Workers        int       // default GOMAXPROCS
	Stdin          io.Reader // for a "-" path
	SpoolDir       string    // where standard input is kept (default: the OS temp dir)
	Logger         *slog.Logger
	// Progress, when set, is advanced by bytes read; TotalBytes tells its size.
	Progress *atomic.Int64
	OnStart  func(totalBytes int64, files int)
	// OnPhase reports the phase after reading ("correlating", "storing").
	OnPhase func(phase string)
	// Resolver resolves identities; by default the case file's queries run
	// against users.database_url, opened with ConnectUsers.
	// Gunzip is an external decompressor (igzip) for gzip files; "" uses the
	// built-in one.
	Gunzip string
	// Rejects is how many rejected lines of each file a Scan (dry run)
	// keeps to show (default logs.MaxRejectsKept); Run keeps
	// logs.MaxRejectsKept in the case database.
	Rejects      int
	Resolver     correlate.Resolver
	ConnectUsers func(ctx context.Context, url string) (*sqlx.DB, error)
	// Engine is where the cache lineage is computed: correlate.EngineStreaming
	// ("" too), EnginePostgres (as SQL in the case database) or EngineCitus
	// (as SQL on the workers; the case database is the coordinator).
	Engine string
}

// FileResult is one input file's evidence and accounting.
type FileResult struct {
	Name         string
	Format       string
	SHA256       string
	Bytes        int64
	Stats        logs.FileStats
	UnknownCache map[string]int64
}

// Result is a finished ingest.
type Result struct {
	Run         int
	Files       []FileResult
	Totals      store.Totals
	Correlation *correlate.Result
	Elapsed     time.Duration
	Timings     map[string]time.Duration // read, evidence, group, lineage, resolve, evaluate, store
	// Loads are the loads an ingest --loaded made the run of.
	Loads []store.Load

	spooled []string // standard input's spool files
}

// TruncatedError says which inputs ended early; ingest exits 1 for it unless
// --allow-truncated.
type TruncatedError struct{ Files []string }

func (e *TruncatedError) Error() string {
	return fmt.Sprintf("%d input file(s) are truncated or unreadable: %s; the lines before the cut were counted (run again with --allow-truncated to accept that)",
		len(e.Files), strings.Join(e.Files, ", "))
}

// InterruptedError says an ingest was stopped (SIGINT, SIGTERM: its context
// was cancelled) before it finished; its run, when one was started, is
// marked interrupted. It wraps the context's error.
type InterruptedError struct {
	Run int   // 0 for a dry run
	Err error // why: context.Canceled, or the signal that cancelled it
}

func (e *InterruptedError) Error() string {
	if e.Run == 0 {
		return "dry run stopped; nothing was kept"
	}
	return fmt.Sprintf("run %d is marked interrupted; nothing of it is used (run ingest again)", e.Run)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// interrupted is err as an *InterruptedError when ctx was cancelled.
func interrupted(ctx context.Context, run int, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	cause := context.Cause(ctx)
	if !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		cause = fmt.Errorf("%w (%w)", ctx.Err(), cause)
	}
	return &InterruptedError{Run: run, Err: cause}
}

// prepared is what both Scan and Run need before reading: the files, their
// parsers, and the defaults filled in.
type prepared struct {
	files   []incident.InputFile
	parsers []logs.Parser
	log     *slog.Logger
}

func prepare(c *incident.Case, opts *Options) (*prepared, error) {
	if opts.Margin < 0 {
		return nil, fmt.Errorf("margin %s is negative", opts.Margin)
	}
	p := &prepared{log: opts.Logger}
	if p.log == nil {
		p.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var err error
	if p.files, err = c.ExpandGlobs(); err != nil {
		return nil, err
	}
	if p.parsers, err = logs.CheckCase(c); err != nil {
		return nil, err
	}
	return p, nil
}

// Scan parses and accounts for every line of the case's logs (hashing each
// file) without correlating or storing anything: a quick check of new logs,
// and the parsing half of an ingest, measured alone. Standard input is
// spooled to a temporary file that is removed before Scan returns, whatever
// happened: a dry run keeps nothing.
func Scan(ctx context.Context, c *incident.Case, opts Options) (*Result, error) {
	start := time.Now()
	p, err := prepare(c, &opts)
	if err != nil {
		return nil, err
	}
	res, err := ingestRun(ctx, nil, c, 0, p.files, p.parsers, opts, p.log, nil)
	if res != nil {
		for _, sp := range res.spooled {
			if rerr := os.Remove(sp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
				err = fmt.Errorf("remove the dry run's copy of standard input: %w", rerr)
			}
		}
		res.spooled = nil
		res.Elapsed = time.Since(start)
	}
	return res, interrupted(ctx, 0, err)
}

// Run ingests the case's logs into a new run.
func Run(ctx context.Context, st *store.Store, c *incident.Case, opts Options) (*Result, error) {
	start := time.Now()
	p, err := prepare(c, &opts)
	if err != nil {
		return nil, err
	}
	files, parsers, log := p.files, p.parsers, p.log
	// The engine is checked before a run is made: a refused engine leaves
	// no failed run behind.
	if _, err := sqlEngine(ctx, st, opts.Engine, c.ID, 0); err != nil {
		return nil, err
	}

	if err := st.UpsertCase(ctx, store.Case{ID: c.ID, Title: c.Title, CaseFile: c.Path, CaseFileSHA256: c.SHA256}); err != nil {
		return nil, err
	}
	run, err := st.NewRun(ctx, c.ID, c.SHA256, opts.Margin)
	if err != nil {
		return nil, err
	}
	log.Info("ingest started", "case", c.ID, "run", run, "files", len(files))
	res, err := ingestRun(ctx, st, c, run, files, parsers, opts, log, nil)
	err = endRun(ctx, st, c.ID, run, res, err, opts.AllowTruncated, nil)
	if res != nil {
		res.Elapsed = time.Since(start)
	}
	return res, err
}

// endRun records how a run ended — done (a truncated input accepted by
// AllowTruncated too), interrupted or failed — with its totals and
// summary, and gives the error to report. loads, when set, are the loads
// the run was made of.
func endRun(ctx context.Context, st *store.Store, caseID string, run int, res *Result, err error, allowTruncated bool, loads []int) error {
	state := store.RunDone
	var te *TruncatedError
	switch {
	case err != nil && ctx.Err() != nil:
		state = store.RunInterrupted
		err = interrupted(ctx, run, err)
	case errors.As(err, &te) && allowTruncated:
		err = nil
	case err != nil:
		state = store.RunFailed
	}
	var totals store.Totals
	var summary any
	if res != nil {
		totals = res.Totals
		if res.Correlation != nil {
			summary = res.Correlation.Summary
		}
	}
	runErr := err
	if state == store.RunInterrupted {
		runErr = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	bg := context.WithoutCancel(ctx)
	if loads != nil {
		if lerr := st.SetRunLoads(bg, caseID, run, loads); lerr != nil && err == nil {
			err = lerr
		}
	}
	if ferr := st.FinishRun(bg, caseID, run, state, totals, summary, runErr); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// ingestRun reads the files into run (none: a Scan), or into a load when
// ld is set: its evidence goes to the load's files and its responses to the
// case's records table, for ingest --loaded to correlate.
func ingestRun(ctx context.Context, st *store.Store, c *incident.Case, run int, files []incident.InputFile, parsers []logs.Parser, opts Options, log *slog.Logger, ld *loadTarget) (*Result, error) {
	res := &Result{Run: run, Files: make([]FileResult, len(files))}
	inputs := make([]logs.Input, len(files))
	var total int64
	for i, f := range files {
		res.Files[i] = FileResult{Name: f.Rel, Format: c.Logs[f.Source].Format, Bytes: f.Size}
		path := f.Path
		if path == "-" {
			if opts.Stdin == nil {
				return res, fmt.Errorf("logs[%d]: \"-\" (standard input) given but there is no input", f.Source)
			}
			p, sum, n, err := logs.SpoolContext(ctx, opts.Stdin, opts.SpoolDir)
			if err != nil {
				return res, err
			}
			res.spooled = append(res.spooled, p)
			path = p
			res.Files[i].SHA256, res.Files[i].Bytes = sum, n
			if st == nil { // Scan removes it
				res.Files[i].Name = "- (standard input)"
			} else {
				log.Info("standard input spooled", "path", p, "bytes", n)
				res.Files[i].Name = "- (standard input, kept as " + p + ")"
			}
		}
		inputs[i] = logs.Input{Path: path, Name: res.Files[i].Name, Parser: parsers[f.Source]}
		total += res.Files[i].Bytes
	}
	if opts.OnStart != nil {
		opts.OnStart(total, len(files))
	}
	var col *correlate.Collector
	var eng *correlate.SQLEngine
	var newSink func(int) logs.Sink
	if st != nil { // a Scan only counts (its case file may have no exposure part)
		var err error
		if col, err = correlate.NewCollector(c); err != nil {
			return res, err
		}
		if ld != nil {
			eng = ld.engine
			if err := eng.Create(ctx); err != nil {
				return res, err
			}
			col.SetSQLEngine(eng)
		} else if eng, err = sqlEngine(ctx, st, opts.Engine, c.ID, run); err != nil {
			return res, err
		} else if eng != nil {
			if err := eng.Create(ctx); err != nil {
				return res, err
			}
			// Dropped after the lineage; here too when the run fails first.
			defer eng.Drop(context.WithoutCancel(ctx), eng.Load) //nolint:errcheck // best effort: the next run's Create drops it too
			col.SetSQLEngine(eng)
		}
		newSink = col.Sink
	}
	res.Timings = map[string]time.Duration{}
	tRead := time.Now()
	keep := logs.MaxRejectsKept
	if st == nil && opts.Rejects > 0 { // a Scan shows them, stores none
		keep = opts.Rejects
	}
	from := c.Start.Add(-opts.Margin).UnixNano()
	to := c.End.Add(opts.Margin).UnixNano()
	stats, err := logs.Read(ctx, inputs, logs.Options{
		Workers: opts.Workers, From: from, To: to, Progress: opts.Progress, NewSink: newSink, Gunzip: opts.Gunzip, KeepRejects: keep,
		BeforeFile: func(i int) error {
			// Chain of custody: hash and record the file before parsing it.
			fr := &res.Files[i]
			if fr.SHA256 == "" {
				sum, n, err := logs.HashFileContext(ctx, inputs[i].Path)
				if err != nil {
					return fmt.Errorf("hash %s: %w", fr.Name, err)
				}
				fr.SHA256, fr.Bytes = sum, n
			}
			if st == nil { // Scan
				return nil
			}
			if ld != nil {
				f := files[i]
				return st.AddLoadFile(ctx, store.LoadFile{Evidence: store.Evidence{CaseID: c.ID, FileNo: i + 1, Path: logs.TextString(fr.Name),
					Bytes: fr.Bytes, SHA256: fr.SHA256, Format: fr.Format}, Load: ld.engine.Load, Source: f.Source, PathIndex: f.Glob, AbsPath: f.Path})
			}
			return st.AddEvidence(ctx, store.Evidence{CaseID: c.ID, Run: run, FileNo: i + 1, Path: logs.TextString(fr.Name),
				Bytes: fr.Bytes, SHA256: fr.SHA256, Format: fr.Format})
		},
	})
	res.Timings["read"] = time.Since(tRead)
	if err != nil {
		return res, err
	}
	tEvidence := time.Now()
	var truncated []string
	for i := range stats {
		s := stats[i]
		fr := &res.Files[i]
		rj, uj, err := account(fr, s)
		if err != nil {
			return res, err
		}
		incident.AddCounts(&res.Totals.UnknownCache, fr.UnknownCache)
		if st == nil {
			// Scan: nothing is stored.
		} else if ld != nil {
			if err := st.FinishLoadFile(ctx, store.LoadFile{Evidence: store.Evidence{CaseID: c.ID, FileNo: i + 1, Path: logs.TextString(fr.Name),
				Compressed: s.Compressed, Truncated: s.Truncated, Lines: s.Lines, Parsed: s.Parsed,
				Rejected: s.Rejected, OutsideWindow: s.OutsideWindow, RejectsJSON: rj, UnknownCacheJSON: uj},
				Load: ld.engine.Load, ReadError: s.ReadError}); err != nil {
				return res, err
			}
		} else if err := st.FinishEvidence(ctx, store.Evidence{CaseID: c.ID, Run: run, FileNo: i + 1, Path: logs.TextString(fr.Name),
			Compressed: s.Compressed, Truncated: s.Truncated, Lines: s.Lines, Parsed: s.Parsed,
			Rejected: s.Rejected, OutsideWindow: s.OutsideWindow, RejectsJSON: rj, UnknownCacheJSON: uj}); err != nil {
			return res, err
		}
		if s.Truncated {
			truncated = append(truncated, fmt.Sprintf("%s (%s)", fr.Name, s.ReadError))
		}
		res.Totals.Files++
		res.Totals.Lines += s.Lines
		res.Totals.Parsed += s.Parsed
		res.Totals.Rejected += s.Rejected
		res.Totals.OutsideWindow += s.OutsideWindow
		log.Debug("file ingested", "file", fr.Name, "lines", s.Lines, "rejected", s.Rejected, "outside_window", s.OutsideWindow)
	}
	res.Timings["evidence"] = time.Since(tEvidence)
	if len(truncated) > 0 && (!opts.AllowTruncated || st == nil) {
		return res, &TruncatedError{Files: truncated}
	}
	if st == nil {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if eng != nil {
		// The responses go to the database; the lineage is read back.
		tUp := time.Now()
		up, err := col.Upload(ctx, eng)
		if err != nil {
			return res, err
		}
		res.Timings["upload"] = time.Since(tUp)
		if ld != nil { // breachctl load: correlated later, with the other loads
			ld.uploaded = up
			if len(truncated) > 0 {
				return res, &TruncatedError{Files: truncated}
			}
			return res, nil
		}
	}
	if err := correlateRun(ctx, st, c, run, col, res, opts, log); err != nil {
		return res, err
	}
	if len(truncated) > 0 {
		return res, &TruncatedError{Files: truncated}
	}
	return res, nil
}

// correlateRun rebuilds the cache lineage, resolves identities and stores
// the run's exposure events and affected accounts.
func correlateRun(ctx context.Context, st *store.Store, c *incident.Case, run int, col *correlate.Collector, res *Result, opts Options, log *slog.Logger) error {
	if opts.OnPhase != nil {
		opts.OnPhase("correlating")
	}
	resolver := opts.Resolver
	if resolver == nil {
		connect := opts.ConnectUsers
		if connect == nil {
			connect = store.Connect
		}
		db, err := connect(ctx, c.Users.DatabaseURL)
		if err != nil {
			return fmt.Errorf("user database (users.database_url %s): %w", store.Redact(c.Users.DatabaseURL), err)
		}
		defer db.Close()
		resolver = &correlate.DBResolver{DB: db, SessionsQuery: c.Users.SessionsQuery, UsersQuery: c.Users.UsersQuery,
			AllowPrivilegedRole: c.Users.AllowPrivilegedRole}
	}
	cr, err := col.Run(ctx, c, resolver)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil { // grouping and lineage do not look at ctx
		return err
	}
	res.Correlation = cr
	for k, v := range cr.Timings {
		res.Timings[k] = v
	}
	n := cr.Counts
	t := &res.Totals
	t.ExposureEvents, t.UnattributedEvents, t.EmptyEvents = n.ExposureEvents, n.UnattributedEvents, n.EmptyEvents
	t.ConfirmedEvents, t.PossibleEvents, t.UnresolvedEvents = n.ConfirmedEvents, n.PossibleEvents, n.UnresolvedEvents
	t.PrivateResponses, t.PrivateOrigin, t.PrivateUnknown = n.PrivateResponses, n.PrivateOrigin, n.PrivateUnknown
	t.UnresolvedOwners, t.UnresolvedViewers = n.UnresolvedOwners, n.UnresolvedViewers
	t.Confirmed, t.Possible = n.Confirmed, n.Possible
	log.Info("correlated", "run", run, "confirmed", n.Confirmed, "possible", n.Possible, "events", cr.NumEvents())

	if opts.OnPhase != nil {
		opts.OnPhase("storing")
	}
	tStore := time.Now()
	// The same few category lists recur (they are shared slices): convert
	// each once.
	type catKey struct {
		first *incident.Category
		n     int
	}
	var catMu sync.Mutex // event is called from two goroutines
	catArrays := map[catKey]pq.StringArray{}
	event := func(i int, row *store.ExposureEvent) {
		ev := cr.Event(i)
		e := &ev
		key := catKey{n: len(e.Categories)}
		if key.n > 0 {
			key.first = &e.Categories[0]
		}
		catMu.Lock()
		cats, ok := catArrays[key]
		if !ok {
			cats = make(pq.StringArray, len(e.Categories))
			for j, c := range e.Categories {
				cats[j] = string(c)
			}
			catArrays[key] = cats
		}
		catMu.Unlock()
		*row = store.ExposureEvent{EventNo: int64(i + 1), Kind: e.Kind, At: time.Unix(0, e.At).UTC(), Pop: e.Pop,
			CacheKey: e.CacheKey, Path: e.Path, Status: e.Status, Victim: nullString(e.Victim), Level: nullString(e.Level),
			Viewer: e.Viewer, Categories: cats,
			EvidenceFile: sql.NullInt64{Int64: int64(e.File), Valid: true}, EvidenceLine: sql.NullInt64{Int64: e.Line, Valid: true},
			Rule: e.Rule}
	}
	affected := make([]store.AffectedAccount, len(cr.Affected))
	for i, a := range cr.Affected {
		cats := make(pq.StringArray, len(a.Categories))
		for j, c := range a.Categories {
			cats[j] = string(c)
		}
		levels, err := json.Marshal(a.CategoryLevels)
		if err != nil {
			return err
		}
		affected[i] = store.AffectedAccount{UserID: a.UserID, Level: a.Level, Categories: cats, CategoryLevels: levels,
			Views: a.Views, Viewers: a.Viewers, FirstExposed: nullTime(a.First), LastExposed: nullTime(a.Last),
			Locale: a.Locale, Country: a.Country, Region: a.Region, Rules: a.Rules}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := st.SaveExposure(ctx, c.ID, run, cr.NumEvents(), event, affected); err != nil {
		return err
	}
	res.Timings["store"] = time.Since(tStore)
	return nil
}

// account checks a file's line accounting, keeps its stats in fr and
// gives its rejected lines and unknown cache results as JSON.
func account(fr *FileResult, s logs.FileStats) (rj, uj []byte, err error) {
	fr.Stats = s
	if s.Parsed+s.Rejected != s.Lines {
		// The reader guarantees this; a violation is a bug worth stopping for.
		return nil, nil, fmt.Errorf("internal error: %s: parsed %d + rejected %d != lines %d", fr.Name, s.Parsed, s.Rejected, s.Lines)
	}
	if s.Rejects == nil {
		s.Rejects = []logs.Reject{}
	}
	if rj, err = json.Marshal(s.Rejects); err != nil {
		return nil, nil, err
	}
	// Unknown cache results, as text (valid UTF-8, no NUL: jsonb takes
	// neither), for the case database and every output.
	for k, v := range s.UnknownCache {
		if fr.UnknownCache == nil {
			fr.UnknownCache = map[string]int64{}
		}
		fr.UnknownCache[logs.TextString(k)] += v
	}
	uj = []byte("{}")
	if len(fr.UnknownCache) > 0 {
		if uj, err = json.Marshal(fr.UnknownCache); err != nil {
			return nil, nil, err
		}
	}
	return rj, uj, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullTime(ns int64) sql.NullTime {
	if ns == 0 {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: time.Unix(0, ns).UTC(), Valid: true}
}

// sqlEngine is the SQL lineage engine engine asks for, on the case
// database (nil for the streaming engine). Citus must be there for
// EngineCitus.
func sqlEngine(ctx context.Context, st *store.Store, engine, caseID string, run int) (*correlate.SQLEngine, error) {
	switch engine {
	case "", correlate.EngineStreaming:
		return nil, nil
	case correlate.EnginePostgres, correlate.EngineCitus:
	default:
		return nil, fmt.Errorf("engine %q: use streaming, postgres or citus", engine)
	}
	citus := false
	if err := st.DB.GetContext(ctx, &citus, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`); err != nil {
		return nil, fmt.Errorf("engine %s: %w", engine, err)
	}
	if engine == correlate.EngineCitus && !citus {
		return nil, fmt.Errorf("engine citus: the case database has no Citus extension: point --db at a Citus coordinator (CREATE EXTENSION citus, with workers added), or use --engine postgres")
	}
	sum := sha256.Sum256([]byte(caseID))
	return &correlate.SQLEngine{DB: st.DB, Citus: engine == correlate.EngineCitus, Temporary: true,
		Table: fmt.Sprintf("breachctl.records_%s_%d", hex.EncodeToString(sum[:16]), run)}, nil
}
