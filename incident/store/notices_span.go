package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SentSpan returns when the first and the last notice of a run were sent
// (zero times when none was), for the clocks that run from the notices.
func (s *Store) SentSpan(ctx context.Context, caseID string, run int) (first, last time.Time, err error) {
	var f, l sql.NullTime
	err = s.DB.QueryRowContext(ctx, `SELECT min(sent_at), max(sent_at) FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND state = 'sent'`, caseID, run).Scan(&f, &l)
	if err != nil {
		return first, last, fmt.Errorf("notices sent in run %d: %w", run, err)
	}
	return f.Time, l.Time, nil
}
