package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ReportRecord is a report as written: which kind, from which run, when,
// and its numbers (the report's JSON "numbers"), so a later report can say
// which figures changed and from what.
type ReportRecord struct {
	CaseID      string          `db:"case_id" json:"-"`
	No          int64           `db:"report_no" json:"report_no"`
	Kind        string          `db:"kind" json:"kind"`
	Run         int             `db:"run" json:"run"`
	Format      string          `db:"format" json:"format"`
	GeneratedAt time.Time       `db:"generated_at" json:"generated_at"`
	NumbersJSON json.RawMessage `db:"numbers" json:"numbers"`
	SHA256      string          `db:"sha256" json:"sha256"`
}

// RecordReport records a written report and returns its number.
func (s *Store) RecordReport(ctx context.Context, r ReportRecord) (int64, error) {
	if len(r.NumbersJSON) == 0 {
		r.NumbersJSON = json.RawMessage(`{}`)
	}
	var no int64
	err := s.DB.GetContext(ctx, &no, `INSERT INTO breachctl.reports (case_id, kind, run, format, generated_at, numbers, sha256)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING report_no`,
		r.CaseID, r.Kind, r.Run, r.Format, r.GeneratedAt, []byte(r.NumbersJSON), r.SHA256)
	if err != nil {
		return 0, fmt.Errorf("record %s report of run %d: %w", r.Kind, r.Run, err)
	}
	return no, nil
}

// Reports lists a case's recorded reports, oldest first.
func (s *Store) Reports(ctx context.Context, caseID string) ([]ReportRecord, error) {
	var rs []ReportRecord
	err := s.DB.SelectContext(ctx, &rs, `SELECT case_id, report_no, kind, run, format, generated_at, numbers, sha256
		FROM breachctl.reports WHERE case_id = $1 ORDER BY report_no`, caseID)
	if err != nil {
		return nil, fmt.Errorf("reports of case %s: %w", caseID, err)
	}
	return rs, nil
}
