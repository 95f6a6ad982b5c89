package store

import (
	"context"
	"fmt"
	"time"
)

// LastSent is the last notice sent to a person, over every run and kind:
// what they were last told (the affected row of BasisRun).
type LastSent struct {
	UserID   string    `db:"user_id"`
	Kind     string    `db:"kind"`
	BasisRun int       `db:"basis_run"`
	SentAt   time.Time `db:"sent_at"`
}

// LastSentNotices returns, per person, the last notice sent to them in any
// run (its kind and the run it described), for working out who is owed an
// update notice. People never sent a notice are absent.
func (s *Store) LastSentNotices(ctx context.Context, caseID string) (map[string]LastSent, error) {
	var rows []LastSent
	err := s.DB.SelectContext(ctx, &rows, `
		SELECT DISTINCT ON (user_id) user_id, kind, coalesce(basis_run, run) AS basis_run, sent_at
		FROM breachctl.notices WHERE case_id = $1 AND state = 'sent' AND sent_at IS NOT NULL
		ORDER BY user_id, sent_at DESC, run DESC`, caseID)
	if err != nil {
		return nil, fmt.Errorf("notices sent in case %s: %w", caseID, err)
	}
	out := make(map[string]LastSent, len(rows))
	for _, r := range rows {
		out[r.UserID] = r
	}
	return out, nil
}
