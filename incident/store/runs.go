package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Run states. An interrupted run was stopped by SIGINT/SIGTERM (a cancelled
// context) before it finished; like a failed run, nothing of it is used.
const (
	RunRunning     = "running"
	RunDone        = "done"
	RunFailed      = "failed"
	RunInterrupted = "interrupted"
)

// Totals are a run's line and event counts (DESIGN.md's triage "totals",
// extended).
type Totals struct {
	Files              int   `json:"files"`
	Lines              int64 `json:"lines"`
	Parsed             int64 `json:"parsed"`
	Rejected           int64 `json:"rejected"`
	OutsideWindow      int64 `json:"outside_window"`
	ExposureEvents     int64 `json:"exposure_events"`
	UnattributedEvents int64 `json:"unattributed_events"`
	EmptyEvents        int64 `json:"empty_events"`
	// Extensions: exposure events by level, events whose owner resolves to
	// nobody, the private-route responses seen, and identities that resolve
	// to nobody (they cannot be notified).
	ConfirmedEvents   int64 `json:"confirmed_events"`
	PossibleEvents    int64 `json:"possible_events"`
	UnresolvedEvents  int64 `json:"unresolved_events"`
	PrivateResponses  int64 `json:"private_responses"`
	PrivateOrigin     int64 `json:"private_origin"`
	PrivateUnknown    int64 `json:"private_unknown_cache"`
	UnresolvedOwners  int   `json:"unresolved_owners"`
	UnresolvedViewers int   `json:"unresolved_viewers"`
	Confirmed         int   `json:"confirmed"`
	Possible          int   `json:"possible"`
	// UnknownCache: cache results no vocabulary knows, over every file
	// (value -> lines): neither hits nor fills, so never an exposure.
	UnknownCache map[string]int64 `json:"unknown_cache"`
}

// Run is a row of breachctl.runs.
type Run struct {
	CaseID         string          `db:"case_id"`
	Run            int             `db:"run"`
	State          string          `db:"state"`
	CaseFileSHA256 string          `db:"case_file_sha256"`
	StartedAt      time.Time       `db:"started_at"`
	FinishedAt     sql.NullTime    `db:"finished_at"`
	MarginSeconds  int             `db:"margin_seconds"`
	Error          sql.NullString  `db:"error"`
	TotalsJSON     json.RawMessage `db:"totals"`
	SummaryJSON    json.RawMessage `db:"summary"`
	// DeterminedAt: when the team accepted this run's count as the scope
	// (breachctl runs --determine); some clocks run from it.
	DeterminedAt sql.NullTime `db:"determined_at"`
}

// Totals decodes the run's totals.
func (r *Run) Totals() (Totals, error) {
	var t Totals
	if len(r.TotalsJSON) == 0 {
		return t, nil
	}
	err := json.Unmarshal(r.TotalsJSON, &t)
	return t, err
}

// NewRun starts the next numbered run of a case. Run numbers are assigned
// under a lock on the case row, so concurrent ingests get distinct numbers.
func (s *Store) NewRun(ctx context.Context, caseID, caseFileSHA string, margin time.Duration) (int, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var locked string
	if err := tx.GetContext(ctx, &locked, `SELECT id FROM breachctl.cases WHERE id = $1 FOR UPDATE`, caseID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("case %s: %w", caseID, ErrNotFound)
		}
		return 0, err
	}
	var run int
	if err := tx.GetContext(ctx, &run, `
		INSERT INTO breachctl.runs (case_id, run, case_file_sha256, margin_seconds)
		SELECT $1, coalesce(max(run), 0) + 1, $2, $3 FROM breachctl.runs WHERE case_id = $1
		RETURNING run`, caseID, caseFileSHA, int(margin/time.Second)); err != nil {
		return 0, fmt.Errorf("start run of case %s: %w", caseID, err)
	}
	return run, tx.Commit()
}

// FinishRun records how a run ended, its totals and its summary (any
// JSON-encodable value; nil for none).
func (s *Store) FinishRun(ctx context.Context, caseID string, run int, state string, totals Totals, summary any, runErr error) error {
	tj, err := json.Marshal(totals)
	if err != nil {
		return err
	}
	sj := []byte("{}")
	if summary != nil {
		if sj, err = json.Marshal(summary); err != nil {
			return err
		}
	}
	var msg sql.NullString
	if runErr != nil {
		msg = sql.NullString{String: runErr.Error(), Valid: true}
	}
	// A cancelled ctx must not leave the run "running": finish it regardless.
	ctx = context.WithoutCancel(ctx)
	_, err = s.DB.ExecContext(ctx, `UPDATE breachctl.runs SET state = $3, totals = $4, error = $5, summary = $6, finished_at = now()
		WHERE case_id = $1 AND run = $2`, caseID, run, state, tj, msg, sj)
	if err != nil {
		return fmt.Errorf("finish run %d of case %s: %w", run, caseID, err)
	}
	return nil
}

const runColumns = `case_id, run, state, case_file_sha256, started_at, finished_at, margin_seconds, error, totals, summary, determined_at`

// SetDetermined records when run's count was accepted as the scope (zero
// clears it).
func (s *Store) SetDetermined(ctx context.Context, caseID string, run int, at time.Time) error {
	var v any
	if !at.IsZero() {
		v = at
	}
	res, err := s.DB.ExecContext(ctx, `UPDATE breachctl.runs SET determined_at = $3 WHERE case_id = $1 AND run = $2`, caseID, run, v)
	if err != nil {
		return fmt.Errorf("run %d of case %s: %w", run, caseID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("run %d of case %s: %w", run, caseID, ErrNotFound)
	}
	return nil
}

// LatestRun returns the newest completed run of a case, or ErrNotFound.
func (s *Store) LatestRun(ctx context.Context, caseID string) (*Run, error) {
	var r Run
	err := s.DB.GetContext(ctx, &r, `SELECT `+runColumns+` FROM breachctl.runs
		WHERE case_id = $1 AND state = 'done' ORDER BY run DESC LIMIT 1`, caseID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("no completed ingest run for case %s (run 'breachctl ingest' first): %w", caseID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("latest run of case %s: %w", caseID, err)
	}
	return &r, nil
}

// GetRun returns one run, or ErrNotFound.
func (s *Store) GetRun(ctx context.Context, caseID string, run int) (*Run, error) {
	var r Run
	err := s.DB.GetContext(ctx, &r, `SELECT `+runColumns+` FROM breachctl.runs WHERE case_id = $1 AND run = $2`, caseID, run)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d of case %s: %w", run, caseID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("run %d of case %s: %w", run, caseID, err)
	}
	return &r, nil
}

// RunNotDoneError says a run asked for by number has not completed: it is
// still running, failed or was interrupted, so its tables hold a partial
// result (or none) that must never be read as the case's answer.
type RunNotDoneError struct {
	CaseID string
	Run    int
	State  string
	Reason string // the run's recorded error, if any
}

func (e *RunNotDoneError) Error() string {
	msg := fmt.Sprintf("run %d of case %s is %s, not done", e.Run, e.CaseID, e.State)
	switch e.State {
	case RunRunning:
		msg += " (an ingest is still writing it, or died without finishing it)"
	default:
		if e.Reason != "" {
			msg += ": " + e.Reason
		}
	}
	return msg + "; use a completed run (omit --run for the latest) or run 'breachctl ingest' again"
}

// DoneRun returns run n of a case when it completed, or its latest completed
// run when n is 0. A run that exists but is not done is a *RunNotDoneError:
// every command that reads a result goes through here, so none can present
// a partial run as an answer.
func (s *Store) DoneRun(ctx context.Context, caseID string, n int) (*Run, error) {
	if n <= 0 {
		return s.LatestRun(ctx, caseID)
	}
	r, err := s.GetRun(ctx, caseID, n)
	if err != nil {
		return nil, err
	}
	if r.State != RunDone {
		return nil, &RunNotDoneError{CaseID: caseID, Run: n, State: r.State, Reason: r.Error.String}
	}
	return r, nil
}

// Runs lists every run of a case, newest first.
func (s *Store) Runs(ctx context.Context, caseID string) ([]Run, error) {
	var rs []Run
	err := s.DB.SelectContext(ctx, &rs, `SELECT `+runColumns+` FROM breachctl.runs WHERE case_id = $1 ORDER BY run DESC`, caseID)
	return rs, err
}

// UnknownCache decodes the file's unknown cache results (value -> lines).
func (e *Evidence) UnknownCache() (map[string]int64, error) {
	m := map[string]int64{}
	if len(e.UnknownCacheJSON) == 0 {
		return m, nil
	}
	err := json.Unmarshal(e.UnknownCacheJSON, &m)
	return m, err
}

// Evidence is one input file of a run (chain of custody and accounting).
type Evidence struct {
	CaseID        string          `db:"case_id" json:"-"`
	Run           int             `db:"run" json:"-"`
	FileNo        int             `db:"file_no" json:"-"`
	Path          string          `db:"path" json:"path"`
	Bytes         int64           `db:"bytes" json:"bytes"`
	SHA256        string          `db:"sha256" json:"sha256"`
	Format        string          `db:"format" json:"format"`
	Compressed    bool            `db:"compressed" json:"compressed"`
	Truncated     bool            `db:"truncated" json:"truncated"`
	Lines         int64           `db:"lines" json:"lines"`
	Parsed        int64           `db:"parsed" json:"parsed"`
	Rejected      int64           `db:"rejected" json:"rejected"`
	OutsideWindow int64           `db:"outside_window" json:"outside_window"`
	RejectsJSON   json.RawMessage `db:"rejects" json:"rejects"`
	// UnknownCache counts the cache results the format does not know
	// (value -> lines), as JSON.
	UnknownCacheJSON json.RawMessage `db:"unknown_cache" json:"unknown_cache"`
	RecordedAt       time.Time       `db:"recorded_at" json:"-"`
}

// AddEvidence records a file (path, size, hash, format) before it is parsed.
func (s *Store) AddEvidence(ctx context.Context, e Evidence) error {
	_, err := s.DB.ExecContext(ctx, `INSERT INTO breachctl.evidence (case_id, run, file_no, path, bytes, sha256, format)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.CaseID, e.Run, e.FileNo, e.Path, e.Bytes, e.SHA256, e.Format)
	if err != nil {
		return fmt.Errorf("record evidence %s: %w", e.Path, err)
	}
	return nil
}

// FinishEvidence stores a file's line accounting after it was parsed.
func (s *Store) FinishEvidence(ctx context.Context, e Evidence) error {
	e.RejectsJSON, e.UnknownCacheJSON = jsonOr(e.RejectsJSON, "[]"), jsonOr(e.UnknownCacheJSON, "{}")
	_, err := s.DB.ExecContext(ctx, `UPDATE breachctl.evidence SET compressed = $4, truncated = $5, lines = $6,
		parsed = $7, rejected = $8, outside_window = $9, rejects = $10, unknown_cache = $11
		WHERE case_id = $1 AND run = $2 AND file_no = $3`,
		e.CaseID, e.Run, e.FileNo, e.Compressed, e.Truncated, e.Lines, e.Parsed, e.Rejected, e.OutsideWindow, e.RejectsJSON, e.UnknownCacheJSON)
	if err != nil {
		return fmt.Errorf("record accounting of %s: %w", e.Path, err)
	}
	return nil
}

// ListEvidence returns a run's files in input order.
func (s *Store) ListEvidence(ctx context.Context, caseID string, run int) ([]Evidence, error) {
	var es []Evidence
	err := s.DB.SelectContext(ctx, &es, `SELECT case_id, run, file_no, path, bytes, sha256, format, compressed, truncated,
		lines, parsed, rejected, outside_window, rejects, unknown_cache, recorded_at
		FROM breachctl.evidence WHERE case_id = $1 AND run = $2 ORDER BY file_no`, caseID, run)
	if err != nil {
		return nil, fmt.Errorf("evidence of run %d: %w", run, err)
	}
	return es, nil
}

// jsonOr is v, or def when v is empty.
func jsonOr(v json.RawMessage, def string) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage(def)
	}
	return v
}
