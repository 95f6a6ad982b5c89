package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/logs"
	"github.com/breachctl/breachctl/incident/store"
)

// When the logs are on several machines (issue 18), each one runs
// breachctl load on its share: its files are hashed and recorded, parsed
// with every line accounted for, and the cache rule's responses COPYed
// into the case's records table on the coordinator (distributed by
// lineage key on Citus), the other rules' requests into its hits table.
// ingest --loaded then makes one run of every load: their files become the
// run's evidence, numbered as one ingest of them all would number them,
// and the lineage is computed in the database over every load's records.

// loadTarget is where ingestRun sends a load.
type loadTarget struct {
	engine   *correlate.SQLEngine
	uploaded correlate.UploadStats
}

// LoadOptions tune a load.
type LoadOptions struct {
	Options
	// Files selects this machine's share among the files the case file's
	// logs[].paths find here (globs matched against the absolute path and
	// the path relative to the case file; none: every file found here).
	Files []string
	// Host names the machine in the load's record (default: its hostname).
	Host string
}

// LoadResult is a finished load.
type LoadResult struct {
	Result
	Load     int
	Uploaded correlate.UploadStats
}

// LoadTables are the case's records and hits tables.
func LoadTables(caseID string) (records, hits string) {
	sum := sha256.Sum256([]byte(caseID))
	h := hex.EncodeToString(sum[:6])
	return "breachctl.loaded_" + h, "breachctl.loaded_hits_" + h
}

// engineFor is the case's load engine on st.
func engineFor(ctx context.Context, st *store.Store, engine, caseID string) (*correlate.SQLEngine, error) {
	switch engine {
	case correlate.EnginePostgres, correlate.EngineCitus:
	default:
		return nil, fmt.Errorf("engine %q: loads are correlated in the database: use --engine postgres or citus", engine)
	}
	e, err := sqlEngine(ctx, st, engine, caseID, 0)
	if err != nil {
		return nil, err
	}
	e.Temporary = false
	e.Table, e.HitsTable = LoadTables(caseID)
	return e, nil
}

// selectFiles is this machine's share: the files the case's globs find
// here that match one of globs (all of them when there are none).
func selectFiles(c *incident.Case, globs []string) ([]incident.InputFile, error) {
	files, err := c.ExpandGlobsHere()
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no log file of the case is on this machine: logs[].paths of %s match nothing here (relative to %s)", c.Path, c.Dir)
	}
	if len(globs) == 0 {
		return files, nil
	}
	var out []incident.InputFile
	used := make([]bool, len(globs))
	for _, f := range files {
		for i, g := range globs {
			abs := g
			if !filepath.IsAbs(abs) {
				if wd, err := os.Getwd(); err == nil {
					abs = filepath.Join(wd, g)
				}
			}
			okAbs, err := filepath.Match(abs, f.Path)
			if err != nil {
				return nil, fmt.Errorf("--files %q: %w", g, err)
			}
			okRel, _ := filepath.Match(g, f.Rel)
			if okAbs || okRel {
				used[i] = true
				out = append(out, f)
				break
			}
		}
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("--files %q selects none of the case's log files on this machine (the case file's logs[].paths decide which files are logs, and their format)", globs[i])
		}
	}
	return out, nil
}

// Load parses this machine's share of the case's logs into a new load.
func Load(ctx context.Context, st *store.Store, c *incident.Case, opts LoadOptions) (*LoadResult, error) {
	start := time.Now()
	if opts.Margin < 0 {
		return nil, fmt.Errorf("margin %s is negative", opts.Margin)
	}
	log := opts.Logger
	if log == nil {
		log = discardLogger()
	}
	files, err := selectFiles(c, opts.Files)
	if err != nil {
		return nil, err
	}
	parsers, err := logs.CheckCase(c)
	if err != nil {
		return nil, err
	}
	eng, err := engineFor(ctx, st, opts.Engine, c.ID)
	if err != nil {
		return nil, err
	}
	host := opts.Host
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			host = "unknown"
		}
	}
	if err := st.UpsertCase(ctx, store.Case{ID: c.ID, Title: c.Title, CaseFile: c.Path, CaseFileSHA256: c.SHA256}); err != nil {
		return nil, err
	}
	n, err := st.NewLoad(ctx, store.Load{CaseID: c.ID, Host: host, Engine: opts.Engine, CaseFileSHA256: c.SHA256, MarginSeconds: int(opts.Margin / time.Second)})
	if err != nil {
		return nil, err
	}
	eng.Load = n
	log.Info("load started", "case", c.ID, "load", n, "files", len(files))
	ld := &loadTarget{engine: eng}
	res, err := ingestRun(ctx, st, c, 0, files, parsers, opts.Options, log, ld)
	l := store.Load{CaseID: c.ID, Load: n, State: store.LoadDone, Records: ld.uploaded.Records, Hits: ld.uploaded.Hits,
		PrivateOrigin: ld.uploaded.Origin, PrivateUnknown: ld.uploaded.Unknown}
	var te *TruncatedError
	switch {
	case err != nil && ctx.Err() != nil:
		l.State = store.LoadInterrupted
		err = interrupted(ctx, 0, err)
	case errors.As(err, &te) && opts.AllowTruncated:
		err = nil
	case err != nil:
		l.State = store.LoadFailed
	}
	if l.State != store.LoadDone {
		// Nothing of a load that did not finish is used: its records go.
		if derr := eng.Drop(context.WithoutCancel(ctx), n); derr != nil {
			log.Warn("could not remove the records of an unfinished load", "load", n, "err", derr)
		}
	}
	if ferr := st.FinishLoad(context.WithoutCancel(ctx), l, err); ferr != nil && err == nil {
		err = ferr
	}
	var out *LoadResult
	if res != nil {
		res.Elapsed = time.Since(start)
		out = &LoadResult{Result: *res, Load: n, Uploaded: ld.uploaded}
	}
	if ie := (*InterruptedError)(nil); errors.As(err, &ie) {
		return out, fmt.Errorf("load %d is marked interrupted; its records were removed (load again)", n)
	}
	return out, err
}

// DropLoad removes a load: its records, its requests and its record.
func DropLoad(ctx context.Context, st *store.Store, caseID string, load int) error {
	records, hits := LoadTables(caseID)
	e := &correlate.SQLEngine{DB: st.DB, Table: records, HitsTable: hits}
	if err := e.Drop(ctx, load); err != nil {
		return err
	}
	return st.DropLoad(ctx, caseID, load)
}

// LoadProblemError says why the loads cannot be correlated as they are.
type LoadProblemError struct{ Problems []string }

func (e *LoadProblemError) Error() string {
	return "the loads cannot make a run: " + strings.Join(e.Problems, "; ")
}

// checkLoads says what keeps the case's loads from making one run, and
// the loads to use.
func checkLoads(c *incident.Case, loads []store.Load, files []store.LoadFile, engine string) (margin time.Duration, ids []int, err error) {
	var problems []string
	if len(loads) == 0 {
		return 0, nil, fmt.Errorf("case %s has no loads: run breachctl load -f CASE --engine %s on each machine that holds logs first", c.ID, engine)
	}
	for _, l := range loads {
		switch {
		case l.State != store.LoadDone:
			problems = append(problems, fmt.Sprintf("load %d (host %s) is %s: load that machine's files again, and drop it (breachctl load -f CASE --drop %d)", l.Load, l.Host, l.State, l.Load))
		case l.CaseFileSHA256 != c.SHA256:
			problems = append(problems, fmt.Sprintf("load %d (host %s) was made from another version of the case file (SHA-256 %.12s…, now %.12s…): the routes, window and rules decide what a load keeps; drop it and load again", l.Load, l.Host, l.CaseFileSHA256, c.SHA256))
		case l.Engine != engine:
			problems = append(problems, fmt.Sprintf("load %d (host %s) was made with --engine %s, not %s", l.Load, l.Host, l.Engine, engine))
		case l.MarginSeconds != loads[0].MarginSeconds:
			problems = append(problems, fmt.Sprintf("load %d (host %s) kept lines within %ds of the window, load %d within %ds: load again with the same --margin", l.Load, l.Host, l.MarginSeconds, loads[0].Load, loads[0].MarginSeconds))
		}
		ids = append(ids, l.Load)
	}
	// A file loaded twice would count its lines, and its views, twice.
	seen := map[string]store.LoadFile{}
	hostOf := map[int]string{}
	for _, l := range loads {
		hostOf[l.Load] = l.Host
	}
	for _, f := range files {
		if f.Bytes == 0 {
			continue
		}
		if g, ok := seen[f.SHA256]; ok {
			problems = append(problems, fmt.Sprintf("%s (load %d, host %s) and %s (load %d, host %s) hold the same bytes (SHA-256 %.12s…): a file loaded twice counts its lines twice; drop one load (breachctl load -f CASE --drop %d)",
				g.Path, g.Load, hostOf[g.Load], f.Path, f.Load, hostOf[f.Load], f.SHA256, f.Load))
			continue
		}
		seen[f.SHA256] = f
	}
	if len(problems) > 0 {
		return 0, nil, &LoadProblemError{Problems: problems}
	}
	return time.Duration(loads[0].MarginSeconds) * time.Second, ids, nil
}

// RunLoaded correlates every load of the case into a new run (ingest
// --loaded): nothing is parsed here.
func RunLoaded(ctx context.Context, st *store.Store, c *incident.Case, opts Options) (*Result, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = discardLogger()
	}
	eng, err := engineFor(ctx, st, opts.Engine, c.ID)
	if err != nil {
		return nil, err
	}
	loads, err := st.ListLoads(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	var all []int
	live := loads[:0]
	for _, l := range loads {
		if l.State != store.LoadDropped {
			live = append(live, l)
			all = append(all, l.Load)
		}
	}
	loads = live
	files, err := st.LoadFiles(ctx, c.ID, all)
	if err != nil {
		return nil, err
	}
	margin, ids, err := checkLoads(c, loads, files, opts.Engine)
	if err != nil {
		return nil, err
	}
	col, err := correlate.NewCollector(c)
	if err != nil {
		return nil, err
	}
	if err := st.UpsertCase(ctx, store.Case{ID: c.ID, Title: c.Title, CaseFile: c.Path, CaseFileSHA256: c.SHA256}); err != nil {
		return nil, err
	}
	run, err := st.NewRun(ctx, c.ID, c.SHA256, margin)
	if err != nil {
		return nil, err
	}
	log.Info("ingest of loads started", "case", c.ID, "run", run, "loads", len(ids), "files", len(files))
	res, err := loadedRun(ctx, st, c, run, col, eng, loads, files, opts, log)
	state := store.RunDone
	var te *TruncatedError
	switch {
	case err != nil && ctx.Err() != nil:
		state = store.RunInterrupted
		err = interrupted(ctx, run, err)
	case errors.As(err, &te) && opts.AllowTruncated:
		err = nil
	case err != nil:
		state = store.RunFailed
	}
	var summary any
	if res.Correlation != nil {
		summary = res.Correlation.Summary
	}
	runErr := err
	if state == store.RunInterrupted {
		runErr = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if lerr := st.SetRunLoads(ctx, c.ID, run, ids); lerr != nil && err == nil {
		err = lerr
	}
	if ferr := st.FinishRun(context.WithoutCancel(ctx), c.ID, run, state, res.Totals, summary, runErr); ferr != nil && err == nil {
		err = ferr
	}
	res.Elapsed = time.Since(start)
	return res, err
}

// loadedRun records the loads' files as the run's evidence and correlates
// their records.
func loadedRun(ctx context.Context, st *store.Store, c *incident.Case, run int, col *correlate.Collector, eng *correlate.SQLEngine,
	loads []store.Load, files []store.LoadFile, opts Options, log *slog.Logger) (*Result, error) {
	res := &Result{Run: run, Timings: map[string]time.Duration{}}
	refs := map[int]*correlate.LoadRef{}
	for _, l := range loads {
		eng.Loads = append(eng.Loads, correlate.LoadRef{ID: l.Load, Origin: l.PrivateOrigin, Unknwn: l.PrivateUnknown, Records: l.Records})
	}
	for i := range eng.Loads {
		refs[eng.Loads[i].ID] = &eng.Loads[i]
	}
	var truncated []string
	for i, f := range files {
		// The run's file i+1 is this load's file f.FileNo.
		ref := refs[f.Load]
		for len(ref.Files) < f.FileNo {
			ref.Files = append(ref.Files, -1)
		}
		ref.Files[f.FileNo-1] = int32(i)
		e := f.Evidence
		e.Run, e.FileNo = run, i+1
		if err := st.AddEvidence(ctx, e); err != nil {
			return res, err
		}
		if err := st.FinishEvidence(ctx, e); err != nil {
			return res, err
		}
		fr := FileResult{Name: f.Path, Format: f.Format, SHA256: f.SHA256, Bytes: f.Bytes, Stats: logs.FileStats{
			Lines: f.Lines, Parsed: f.Parsed, Rejected: f.Rejected, OutsideWindow: f.OutsideWindow, Compressed: f.Compressed,
			Truncated: f.Truncated, ReadError: f.ReadError}}
		if len(f.UnknownCacheJSON) > 2 {
			if err := json.Unmarshal(f.UnknownCacheJSON, &fr.UnknownCache); err != nil {
				return res, fmt.Errorf("load %d, %s: unknown cache results: %w", f.Load, f.Path, err)
			}
			incident.AddCounts(&res.Totals.UnknownCache, fr.UnknownCache)
		}
		if len(f.RejectsJSON) > 2 {
			if err := json.Unmarshal(f.RejectsJSON, &fr.Stats.Rejects); err != nil {
				return res, fmt.Errorf("load %d, %s: rejected lines: %w", f.Load, f.Path, err)
			}
		}
		res.Files = append(res.Files, fr)
		if f.Truncated {
			truncated = append(truncated, fmt.Sprintf("%s (load %d: %s)", f.Path, f.Load, f.ReadError))
		}
		res.Totals.Files++
		res.Totals.Lines += f.Lines
		res.Totals.Parsed += f.Parsed
		res.Totals.Rejected += f.Rejected
		res.Totals.OutsideWindow += f.OutsideWindow
	}
	for _, ref := range refs {
		if slices.Contains(ref.Files, -1) {
			return res, fmt.Errorf("load %d is missing some of its files' records: drop it and load again", ref.ID)
		}
	}
	if len(truncated) > 0 && !opts.AllowTruncated {
		return res, &TruncatedError{Files: truncated}
	}
	if err := col.DownloadHits(ctx, eng); err != nil {
		return res, err
	}
	col.SetSQLEngine(eng)
	if err := correlateRun(ctx, st, c, run, col, res, opts, log); err != nil {
		return res, err
	}
	if len(truncated) > 0 {
		return res, &TruncatedError{Files: truncated}
	}
	return res, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
