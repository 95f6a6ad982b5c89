package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Load states.
const (
	LoadLoading     = "loading"
	LoadDone        = "done"
	LoadFailed      = "failed"
	LoadInterrupted = "interrupted"
	LoadDropped     = "dropped"
)

// Load is one machine's share of a case's logs, loaded into the case's
// records table (breachctl load).
type Load struct {
	CaseID         string         `db:"case_id"`
	Load           int            `db:"load"`
	Host           string         `db:"host"`
	Engine         string         `db:"engine"`
	CaseFileSHA256 string         `db:"case_file_sha256"`
	MarginMS       int64          `db:"margin_ms"`
	Globs          pq.StringArray `db:"globs"`
	State          string         `db:"state"`
	Error          sql.NullString `db:"error"`
	Records        int64          `db:"records"`
	Hits           int64          `db:"hits"`
	PrivateOrigin  int64          `db:"private_origin"`
	PrivateUnknown int64          `db:"private_unknown"`
	StartedAt      time.Time      `db:"started_at"`
	FinishedAt     sql.NullTime   `db:"finished_at"`
	// Files and lines, summed from its files (ListLoads).
	Files int   `db:"files"`
	Lines int64 `db:"lines"`
}

// LoadFile is a loaded file's evidence and accounting.
type LoadFile struct {
	Evidence
	Load      int    `db:"load"`
	Source    int    `db:"source"`
	PathIndex int    `db:"path_index"`
	AbsPath   string `db:"abs_path"`
	ReadError string `db:"read_error"`
}

// NewLoad numbers a new load of the case (which must exist) and records
// how it is made.
func (s *Store) NewLoad(ctx context.Context, l Load) (int, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var locked string
	if err := tx.GetContext(ctx, &locked, `SELECT id FROM breachctl.cases WHERE id = $1 FOR UPDATE`, l.CaseID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("case %s: %w", l.CaseID, ErrNotFound)
		}
		return 0, err
	}
	var n int
	if err := tx.GetContext(ctx, &n, `
		INSERT INTO breachctl.loads (case_id, load, host, engine, case_file_sha256, margin_ms, globs)
		SELECT $1, coalesce(max(load), 0) + 1, $2, $3, $4, $5, $6 FROM breachctl.loads WHERE case_id = $1
		RETURNING load`, l.CaseID, l.Host, l.Engine, l.CaseFileSHA256, l.MarginMS, l.Globs); err != nil {
		return 0, fmt.Errorf("start a load of case %s: %w", l.CaseID, err)
	}
	return n, tx.Commit()
}

// AddLoadFile records a file (path, size, hash, format, where the case
// file found it) before it is parsed.
func (s *Store) AddLoadFile(ctx context.Context, f LoadFile) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO breachctl.load_files (case_id, load, file_no, source, path_index, path, abs_path, bytes, sha256, format)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, f.CaseID, f.Load, f.FileNo, f.Source, f.PathIndex, f.Path, f.AbsPath, f.Bytes, f.SHA256, f.Format)
	if err != nil {
		return fmt.Errorf("record evidence %s: %w", f.Path, err)
	}
	return nil
}

// FinishLoadFile stores a loaded file's line accounting.
func (s *Store) FinishLoadFile(ctx context.Context, f LoadFile) error {
	f.RejectsJSON, f.UnknownCacheJSON = jsonOr(f.RejectsJSON, "[]"), jsonOr(f.UnknownCacheJSON, "{}")
	_, err := s.DB.ExecContext(ctx, `UPDATE breachctl.load_files SET compressed = $4, truncated = $5, read_error = $6, lines = $7,
		parsed = $8, rejected = $9, outside_window = $10, rejects = $11, unknown_cache = $12
		WHERE case_id = $1 AND load = $2 AND file_no = $3`,
		f.CaseID, f.Load, f.FileNo, f.Compressed, f.Truncated, f.ReadError, f.Lines, f.Parsed, f.Rejected, f.OutsideWindow, f.RejectsJSON, f.UnknownCacheJSON)
	if err != nil {
		return fmt.Errorf("record accounting of %s: %w", f.Path, err)
	}
	return nil
}

// ErrLoadDropped: the load was dropped while it ran.
var ErrLoadDropped = errors.New("the load was dropped while it ran")

// FinishLoad records how a load ended and what it sent. A load dropped
// meanwhile stays dropped: ErrLoadDropped.
func (s *Store) FinishLoad(ctx context.Context, l Load, loadErr error) error {
	var msg sql.NullString
	if loadErr != nil {
		msg = sql.NullString{String: loadErr.Error(), Valid: true}
	}
	res, err := s.DB.ExecContext(ctx, `UPDATE breachctl.loads SET state = $3, error = $4, records = $5, hits = $6,
		private_origin = $7, private_unknown = $8, finished_at = now() WHERE case_id = $1 AND load = $2 AND state = 'loading'`,
		l.CaseID, l.Load, l.State, msg, l.Records, l.Hits, l.PrivateOrigin, l.PrivateUnknown)
	if err != nil {
		return fmt.Errorf("finish load %d: %w", l.Load, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("load %d: %w", l.Load, ErrLoadDropped)
	}
	return nil
}

// ListLoads returns the case's loads in order.
func (s *Store) ListLoads(ctx context.Context, caseID string) ([]Load, error) {
	var ls []Load
	err := s.DB.SelectContext(ctx, &ls, `SELECT l.case_id, l.load, l.host, l.engine, l.case_file_sha256, l.margin_ms, l.globs, l.state, l.error,
		l.records, l.hits, l.private_origin, l.private_unknown, l.started_at, l.finished_at,
		(SELECT count(*) FROM breachctl.load_files f WHERE f.case_id = l.case_id AND f.load = l.load) AS files,
		(SELECT coalesce(sum(lines), 0) FROM breachctl.load_files f WHERE f.case_id = l.case_id AND f.load = l.load) AS lines
		FROM breachctl.loads l WHERE l.case_id = $1 ORDER BY l.load`, caseID)
	if err != nil {
		return nil, fmt.Errorf("loads of case %s: %w", caseID, err)
	}
	return ls, nil
}

// LoadFiles returns the files of the given loads, in the order one ingest
// of them all would number them: by logs[] entry, then paths[] glob, then
// path.
func (s *Store) LoadFiles(ctx context.Context, caseID string, loads []int) ([]LoadFile, error) {
	var fs []LoadFile
	err := s.DB.SelectContext(ctx, &fs, `SELECT case_id, load, file_no, source, path_index, path, abs_path, bytes, sha256, format, compressed, truncated,
		read_error, lines, parsed, rejected, outside_window, rejects, unknown_cache, recorded_at
		FROM breachctl.load_files WHERE case_id = $1 AND load = ANY($2::int[]) ORDER BY source, path_index, abs_path COLLATE "C", load, file_no`,
		caseID, pq.Array(loads))
	if err != nil {
		return nil, fmt.Errorf("files of the loads of case %s: %w", caseID, err)
	}
	return fs, nil
}

// DropLoad marks a load dropped (its records are removed from the records
// tables by the caller); its number is not used again.
func (s *Store) DropLoad(ctx context.Context, caseID string, load int) error {
	res, err := s.DB.ExecContext(ctx, `UPDATE breachctl.loads SET state = 'dropped', finished_at = coalesce(finished_at, now())
		WHERE case_id = $1 AND load = $2`, caseID, load)
	if err != nil {
		return fmt.Errorf("drop load %d: %w", load, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("case %s has no load %d: %w", caseID, load, ErrNotFound)
	}
	return nil
}

// SetRunLoads records the loads a run was correlated from.
func (s *Store) SetRunLoads(ctx context.Context, caseID string, run int, loads []int) error {
	_, err := s.DB.ExecContext(ctx, `UPDATE breachctl.runs SET loads = $3 WHERE case_id = $1 AND run = $2`, caseID, run, pq.Array(loads))
	return err
}
