package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// SentNotice is the last notice a person was sent in a case, in a run other
// than the one being planned: what they were told (BasisRun's affected row)
// and under which Message-ID.
type SentNotice struct {
	UserID    string    `db:"user_id"`
	Run       int       `db:"run"`
	Kind      string    `db:"kind"`
	MessageID string    `db:"message_id"`
	BasisRun  int       `db:"basis_run"`
	SentAt    time.Time `db:"sent_at"`
	// FirstMessageID is the Message-ID of the person's first notice (the
	// one updates and corrections refer to).
	FirstMessageID string `db:"first_message_id"`
}

// LastSent returns, per person, the last e-mail notice sent to them in any
// run of the case but exclude (Ledger.LastSent).
func (s *Store) LastSent(ctx context.Context, caseID string, exclude int) (map[string]SentNotice, error) {
	return s.email().LastSent(ctx, caseID, exclude)
}

// LastSent returns, per person, the last notice sent to them on the
// ledger's channel in any run of the case but exclude (the latest by sent
// time; a notice recorded as "already sent in run N" counts as what run N
// sent). A notice that bounced or came back was sent all the same: what
// the person is owed next is planned from it (an update, not the same
// notice again), and the channel policy reaches them another way. Each
// channel is planned from its own notices: a person told by e-mail who
// never had a letter is owed a first letter.
func (l *Ledger) LastSent(ctx context.Context, caseID string, exclude int) (map[string]SentNotice, error) {
	s := l.s
	var rows []SentNotice
	err := s.hashJoins(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &rows, `
		WITH sent AS (
			SELECT user_id, run, kind, message_id, coalesce(basis_run, run) AS basis_run, sent_at
			FROM breachctl.notices
			WHERE case_id = $1 AND run <> $2 AND channel = $3 AND state IN ('sent', 'bounced', 'returned') AND sent_at IS NOT NULL
			  AND coalesce(smtp_reply, '') NOT LIKE 'already sent in run %'
			  AND coalesce(smtp_reply, '') NOT LIKE 'superseded by %'
		), last AS (
			SELECT DISTINCT ON (user_id) * FROM sent ORDER BY user_id, sent_at DESC, run DESC
		), first AS (
			SELECT DISTINCT ON (user_id) user_id, message_id FROM sent WHERE kind = 'first' ORDER BY user_id, sent_at
		)
		SELECT last.user_id, last.run, last.kind, last.message_id, last.basis_run, last.sent_at,
			coalesce(first.message_id, '') AS first_message_id
		FROM last LEFT JOIN first USING (user_id)`, caseID, exclude, l.ch)
	})
	if err != nil {
		return nil, fmt.Errorf("notices sent in case %s: %w", caseID, err)
	}
	out := make(map[string]SentNotice, len(rows))
	for _, r := range rows {
		out[r.UserID] = r
	}
	return out, nil
}

// FirstMessageIDs is the e-mail ledger's Ledger.FirstMessageIDs.
func (s *Store) FirstMessageIDs(ctx context.Context, caseID string, exclude int) (map[string]string, error) {
	return s.email().FirstMessageIDs(ctx, caseID, exclude)
}

// FirstMessageIDs returns the Message-ID of each person's first notice in
// any run of the case other than exclude, whatever its state: a person's
// first notice keeps one Message-ID across runs (a resend after doubt, a
// revised count), even if the case file's sender changed since. The
// ledger's own channel's is preferred, then e-mail's, so a person's first
// notice has one Message-ID on every channel.
func (l *Ledger) FirstMessageIDs(ctx context.Context, caseID string, exclude int) (map[string]string, error) {
	s := l.s
	out, err := s.userStrings(ctx, `SELECT DISTINCT ON (user_id) user_id, message_id FROM breachctl.notices
		WHERE case_id = $1 AND run <> $2 AND kind = 'first'
		ORDER BY user_id, (channel = $3) DESC, (channel = 'email') DESC, run, channel`, caseID, exclude, l.ch)
	if err != nil {
		return nil, fmt.Errorf("first notices of case %s: %w", caseID, err)
	}
	return out, nil
}

// NoticeKinds returns the kind of each person's notice in a run.
func (l *Ledger) NoticeKinds(ctx context.Context, caseID string, run int) (map[string]Notice, error) {
	var rows []Notice
	err := l.s.DB.SelectContext(ctx, &rows, `SELECT case_id, run, user_id, channel, state, attempts, message_id, last_error,
		smtp_reply, next_attempt_at, created_at, updated_at, sending_at, sent_at, uncertain_count, kind, refers_to, basis_run
		FROM breachctl.notices WHERE case_id = $1 AND run = $2 AND channel = $3`, caseID, run, l.ch)
	if err != nil {
		return nil, fmt.Errorf("notices of run %d: %w", run, err)
	}
	out := make(map[string]Notice, len(rows))
	for _, r := range rows {
		out[r.UserID] = r
	}
	return out, nil
}

// KindCount is a number of a run's notices of one kind in one state.
type KindCount struct {
	Kind  string `db:"kind"`
	State string `db:"state"`
	N     int    `db:"n"`
}

// CountNoticeKinds counts a run's notices by kind and state.
func (l *Ledger) CountNoticeKinds(ctx context.Context, caseID string, run int) ([]KindCount, error) {
	var out []KindCount
	err := l.s.DB.SelectContext(ctx, &out, `SELECT kind, state, count(*) AS n FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = $3 GROUP BY kind, state ORDER BY kind, state`, caseID, run, l.ch)
	if err != nil {
		return nil, fmt.Errorf("notices of run %d: %w", run, err)
	}
	return out, nil
}

// hashJoins runs fn in a read-write transaction where the planner may not
// use nested loops: the ledger queries that match a run's notices with the
// other runs' by person are hash joins over two large sets, and a planner
// that has not analysed a young ledger (rows=1 everywhere) would otherwise
// pick a nested loop that scans one set once per row of the other.
func (s *Store) hashJoins(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_nestloop = off`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// NoLongerAffected lists the people sent a notice under another run of the
// case (their last one not a correction) who are not affected in run, in
// user-id order.
func (s *Store) NoLongerAffected(ctx context.Context, caseID string, run int) ([]string, error) {
	var ids []string
	err := s.hashJoins(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &ids, `
		WITH last AS (
			SELECT DISTINCT ON (user_id) user_id, kind FROM breachctl.notices
			WHERE case_id = $1 AND run <> $2 AND state IN ('sent', 'bounced', 'returned') AND sent_at IS NOT NULL
			ORDER BY user_id, sent_at DESC, run DESC
		)
		SELECT last.user_id FROM last
		WHERE last.kind <> 'correction'
		  AND NOT EXISTS (SELECT 1 FROM breachctl.affected a WHERE a.case_id = $1 AND a.run = $2 AND a.user_id = last.user_id)
		ORDER BY length(last.user_id), last.user_id`, caseID, run)
	})
	if err != nil {
		return nil, fmt.Errorf("people no longer affected in run %d: %w", run, err)
	}
	return ids, nil
}
