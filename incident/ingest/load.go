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
	"github.com/breachctl/breachctl/internal/textsafe"
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
	h := hex.EncodeToString(sum[:16])
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

// loadLock is the advisory lock a running load holds (on its own
// connection, for as long as it runs): a load marked loading whose lock is
// free belongs to a process that died.
func loadLock(ctx context.Context, conn *sql.Conn, try bool, caseID string, load int) (bool, error) {
	if !try {
		_, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext($1), $2)`, "breachctl load "+caseID, load)
		return err == nil, err
	}
	var ok bool
	err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext($1), $2)`, "breachctl load "+caseID, load).Scan(&ok)
	return ok, err
}

// loadUnlock releases loadLock (the connection goes back to the pool: the
// lock would outlive the load).
func loadUnlock(conn *sql.Conn, caseID string, load int) {
	_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext($1), $2)`, "breachctl load "+caseID, load)
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
	var globs []string
	for _, f := range files {
		for _, g := range f.Globs {
			if !slices.Contains(globs, g) {
				globs = append(globs, g)
			}
		}
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
	n, err := st.NewLoad(ctx, store.Load{CaseID: c.ID, Host: host, Engine: opts.Engine, CaseFileSHA256: c.SHA256,
		MarginMS: opts.Margin.Milliseconds(), Globs: globs})
	if err != nil {
		return nil, err
	}
	eng.Load = n
	// The lock says this load is alive until it ends (or its process dies).
	conn, err := st.DB.Conn(ctx)
	if err == nil {
		defer conn.Close()
		if _, err = loadLock(ctx, conn, false, c.ID, n); err == nil {
			defer loadUnlock(conn, c.ID, n)
		}
	}
	var res *Result
	ld := &loadTarget{engine: eng}
	if err == nil {
		log.Info("load started", "case", c.ID, "load", n, "files", len(files))
		res, err = ingestRun(ctx, st, c, 0, files, parsers, opts.Options, log, ld)
	}
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
	bg := context.WithoutCancel(ctx)
	ferr := st.FinishLoad(bg, l, err)
	dropped := errors.Is(ferr, store.ErrLoadDropped)
	var derr error
	if l.State != store.LoadDone || dropped {
		// Nothing of a load that did not finish is used: its records go.
		derr = eng.Drop(bg, n)
	}
	removed := "its records were removed"
	if derr != nil {
		removed = fmt.Sprintf("its records could not be removed (%v): remove them with breachctl load -f CASE --drop %d", derr, n)
	}
	var out *LoadResult
	if res != nil {
		res.Elapsed = time.Since(start)
		out = &LoadResult{Result: *res, Load: n, Uploaded: ld.uploaded}
	}
	var ie *InterruptedError
	switch {
	case dropped:
		return out, fmt.Errorf("load %d was dropped (load --drop) while it ran; %s", n, removed)
	case errors.As(err, &ie):
		return out, fmt.Errorf("load %d is marked interrupted; %s (load again)", n, removed)
	case err != nil:
		return out, fmt.Errorf("load %d is marked failed; %s: %w", n, removed, err)
	case ferr != nil:
		return out, ferr
	}
	return out, nil
}

// ErrStillLoading: a load to drop is running.
var ErrStillLoading = errors.New("still loading")

// DropLoad removes a load's records and requests and marks it dropped (it
// is still listed; its number is not used again). A load still running is
// refused (ErrStillLoading); one whose process died is dropped. When no
// load is left, the case's records tables go too.
func DropLoad(ctx context.Context, st *store.Store, caseID string, load int) error {
	loads, err := st.ListLoads(ctx, caseID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(loads, func(l store.Load) bool { return l.Load == load })
	if i < 0 {
		return fmt.Errorf("case %s has no load %d (breachctl load -f CASE --list shows them): %w", caseID, load, store.ErrNotFound)
	}
	if l := loads[i]; l.State == store.LoadLoading {
		conn, err := st.DB.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		free, err := loadLock(ctx, conn, true, caseID, load)
		if err != nil {
			return err
		}
		if !free {
			return fmt.Errorf("load %d (host %s, started %s) is still loading: wait for it to end, or stop it, then drop it: %w",
				load, textsafe.Term(l.Host), l.StartedAt.UTC().Format(time.RFC3339), ErrStillLoading)
		}
		// Its process died: the lock is held until the load is marked.
		defer loadUnlock(conn, caseID, load)
	}
	// Marked first: a drop cut short leaves a load nobody uses, never a
	// done load with part of its records. (An ingest --loaded using it
	// holds its row: the mark waits for that run to end.)
	if err := st.DropLoad(ctx, caseID, load); err != nil {
		return err
	}
	records, hits := LoadTables(caseID)
	e := &correlate.SQLEngine{DB: st.DB, Table: records, HitsTable: hits}
	live := 0
	for _, l := range loads {
		if l.Load != load && (l.State == store.LoadDone || l.State == store.LoadLoading) {
			live++
		}
	}
	if live == 0 {
		// Nothing left to correlate: the tables (and their dead rows,
		// identities as logged) go.
		e.Temporary = true
	}
	return e.Drop(ctx, load)
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
	covered := map[string]bool{}
	for _, l := range loads {
		host := textsafe.Term(l.Host)
		switch {
		case l.State == store.LoadLoading:
			problems = append(problems, fmt.Sprintf("load %d (host %s) is still loading: wait for it (a load whose process died is dropped with breachctl load -f CASE --drop %d, then loaded again)", l.Load, host, l.Load))
		case l.State != store.LoadDone:
			problems = append(problems, fmt.Sprintf("load %d (host %s) is %s: load that machine's files again, and drop it (breachctl load -f CASE --drop %d)", l.Load, host, l.State, l.Load))
		case l.CaseFileSHA256 != c.SHA256:
			problems = append(problems, fmt.Sprintf("load %d (host %s) was made from another version of the case file (SHA-256 %.12s…, now %.12s…): the routes, window and rules decide what a load keeps; drop it and load again", l.Load, host, l.CaseFileSHA256, c.SHA256))
		case l.Engine != engine:
			problems = append(problems, fmt.Sprintf("load %d (host %s) was made with --engine %s: run ingest --loaded with --engine %s, or drop it and load again with --engine %s", l.Load, host, l.Engine, l.Engine, engine))
		case l.MarginMS != loads[0].MarginMS:
			problems = append(problems, fmt.Sprintf("load %d (host %s) kept lines within %s of the window, load %d within %s: load again with the same --margin", l.Load, host,
				time.Duration(l.MarginMS)*time.Millisecond, loads[0].Load, time.Duration(loads[0].MarginMS)*time.Millisecond))
		}
		for _, g := range l.Globs {
			covered[g] = true
		}
		ids = append(ids, l.Load)
	}
	// Every glob of the case file found a file on some machine: a machine
	// never loaded would otherwise go unnoticed (one ingest refuses a glob
	// that matches nothing).
	for i, src := range c.Logs {
		for j, g := range src.Paths {
			if g != "-" && !covered[fmt.Sprintf("%d.%d", i, j)] {
				problems = append(problems, fmt.Sprintf("logs[%d].paths[%d] %q found no file in any load: run breachctl load on the machine that holds those files, or remove the entry", i, j, g))
			}
		}
	}
	// A file loaded twice would count its lines, and its views, twice.
	seen := map[string]store.LoadFile{}
	hostOf := map[int]string{}
	for _, l := range loads {
		hostOf[l.Load] = textsafe.Term(l.Host)
	}
	for _, f := range files {
		if f.Parsed == 0 {
			continue // no record: the same empty (or header-only) file anywhere changes nothing
		}
		if g, ok := seen[f.SHA256]; ok {
			problems = append(problems, fmt.Sprintf("%s (load %d, host %s) and %s (load %d, host %s) hold the same bytes (SHA-256 %.12s…): a file loaded twice counts its lines twice; drop one load (breachctl load -f CASE --drop %d)",
				textsafe.Term(g.Path), g.Load, hostOf[g.Load], textsafe.Term(f.Path), f.Load, hostOf[f.Load], f.SHA256, f.Load))
			continue
		}
		seen[f.SHA256] = f
	}
	if len(problems) > 0 {
		return 0, nil, &LoadProblemError{Problems: problems}
	}
	return time.Duration(loads[0].MarginMS) * time.Millisecond, ids, nil
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
	// The loads' rows are held for the whole run: a drop (which marks the
	// row first) waits for it, so the records read are the loads checked.
	hold, err := st.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer hold.Rollback() //nolint:errcheck // it only holds row locks
	if _, err := hold.ExecContext(ctx, `SELECT 1 FROM breachctl.loads WHERE case_id = $1 AND state <> 'dropped' FOR SHARE`, c.ID); err != nil {
		return nil, fmt.Errorf("hold the loads: %w", err)
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
	for _, l := range loads {
		eng.Loads = append(eng.Loads, correlate.LoadRef{ID: l.Load, Origin: l.PrivateOrigin, Unknwn: l.PrivateUnknown, Records: l.Records, Hits: l.Hits})
	}
	// Every load's rows are all there (checked again as they are read).
	if err := eng.VerifyLoads(ctx); err != nil {
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
	res.Loads = loads
	err = endRun(ctx, st, c.ID, run, res, err, opts.AllowTruncated, ids)
	res.Elapsed = time.Since(start)
	return res, err
}

// loadedRun records the loads' files as the run's evidence and correlates
// their records.
func loadedRun(ctx context.Context, st *store.Store, c *incident.Case, run int, col *correlate.Collector, eng *correlate.SQLEngine,
	loads []store.Load, files []store.LoadFile, opts Options, log *slog.Logger) (*Result, error) {
	res := &Result{Run: run, Timings: map[string]time.Duration{}}
	refs := map[int]*correlate.LoadRef{}
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
