package store

import (
	"context"
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
	sent, err := s.LastSent(ctx, caseID, 0)
	if err != nil {
		return nil, err
	}
	out := make(map[string]LastSent, len(sent))
	for u, n := range sent {
		out[u] = LastSent{UserID: u, Kind: n.Kind, BasisRun: n.BasisRun, SentAt: n.SentAt}
	}
	return out, nil
}
