package store

import (
	"context"
	"fmt"
)

// ReconcileRuns brings a run's unsent notices in line with the case's other
// runs, so that a person is never written to again because a revised count
// made a new run (or an operator went back to an older one):
//
//   - a pending or uncertain notice whose person another run has already
//     sent to is recorded as sent (with that run's time and a reply saying so);
//   - a pending notice whose person has an uncertain notice in another run
//     (or one that failed with its delivery unknown) becomes uncertain
//     itself: it may already have been delivered, so the --uncertain policy
//     decides (resend with the same Message-ID, or hold).
//
// Call it while holding LockNoticeSender, after RecoverSending: no other
// sender can change the other runs' rows meanwhile.
func (l *Ledger) ReconcileRuns(ctx context.Context, caseID string, run int) (sentElsewhere, doubtElsewhere int, err error) {
	tx, err := l.s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("reconcile notices of run %d: %w", run, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// A run's notices are matched with the other runs' by person: hash
	// joins, whatever the planner believes of a ledger it has not analysed
	// yet (a nested loop over an unanalysed ledger scanned the case's whole
	// ledger once per person: 10 s for 2,000 notices).
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_nestloop = off`); err != nil {
		return 0, 0, fmt.Errorf("reconcile notices of run %d: %w", run, err)
	}
	err = tx.GetContext(ctx, &sentElsewhere, `
		WITH other AS (
			SELECT DISTINCT ON (n.user_id) n.user_id, o.run, o.sent_at, coalesce(o.basis_run, o.run) AS basis_run, o.state
			FROM breachctl.notices n JOIN breachctl.notices o
			  ON o.case_id = n.case_id AND o.run <> n.run AND o.channel = $3 AND o.state IN ('sent', 'bounced', 'returned') AND o.user_id = n.user_id
			 AND (o.message_id = n.message_id OR (o.kind = 'first' AND n.kind = 'first'))
			WHERE n.case_id = $1 AND n.run = $2 AND n.channel = $3 AND n.state IN ('pending', 'uncertain')
			ORDER BY n.user_id, o.sent_at
		), u AS (
			UPDATE breachctl.notices n SET state = other.state, sent_at = other.sent_at, next_attempt_at = NULL, updated_at = now(),
				smtp_reply = 'already sent in run ' || other.run || '; not sent again', basis_run = other.basis_run
			FROM other
			WHERE n.case_id = $1 AND n.run = $2 AND n.channel = $3 AND n.user_id = other.user_id
			  AND n.state IN ('pending', 'uncertain')
			RETURNING 1)
		SELECT count(*) FROM u`, caseID, run, l.ch)
	if err != nil {
		return 0, 0, fmt.Errorf("reconcile notices of run %d: %w", run, err)
	}
	err = tx.GetContext(ctx, &doubtElsewhere, `
		WITH other AS (
			SELECT n.user_id, min(o.run) AS run, max(o.uncertain_count) AS uncertain_count
			FROM breachctl.notices n JOIN breachctl.notices o
			  ON o.case_id = n.case_id AND o.run <> n.run AND o.channel = $3 AND o.user_id = n.user_id
			 AND (o.message_id = n.message_id OR (o.kind = 'first' AND n.kind = 'first'))
			 AND (o.state = 'uncertain' OR (o.state = 'failed' AND o.uncertain_count > 0))
			WHERE n.case_id = $1 AND n.run = $2 AND n.channel = $3 AND n.state = 'pending'
			GROUP BY n.user_id
		), u AS (
			UPDATE breachctl.notices n SET state = 'uncertain', updated_at = now(),
				uncertain_count = greatest(n.uncertain_count, other.uncertain_count),
				last_error = 'the notice of run ' || other.run || ' may have been delivered (its SMTP transaction ended without an answer)'
			FROM other
			WHERE n.case_id = $1 AND n.run = $2 AND n.channel = $3 AND n.user_id = other.user_id
			  AND n.state = 'pending'
			RETURNING 1)
		SELECT count(*) FROM u`, caseID, run, l.ch)
	if err != nil {
		return 0, 0, fmt.Errorf("reconcile notices of run %d: %w", run, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("reconcile notices of run %d: %w", run, err)
	}
	return sentElsewhere, doubtElsewhere, nil
}

// RetryFailed puts a run's failed notices back with their attempts reset
// (after the cause was fixed: a full mailbox, a relay policy, a server that
// dropped connections), and returns how many. One whose delivery is unknown
// (uncertain_count > 0) goes back to uncertain, so the --uncertain policy
// decides whether it is resent (with its Message-ID); the others to pending.
func (l *Ledger) RetryFailed(ctx context.Context, caseID string, run int) (int, error) {
	res, err := l.s.DB.ExecContext(ctx, `
		UPDATE breachctl.notices SET state = CASE WHEN uncertain_count > 0 THEN 'uncertain' ELSE 'pending' END,
			attempts = 0, next_attempt_at = NULL, updated_at = now()
		WHERE case_id = $1 AND run = $2 AND channel = $3 AND state = 'failed'`, caseID, run, l.ch)
	if err != nil {
		return 0, fmt.Errorf("retry failed notices of run %d: %w", run, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// NoticeMessageIDs returns the Message-ID the ledger holds for each person
// of a run: a notice is always sent under the Message-ID it was seeded
// with, even if the case file's sender address changed since.
func (l *Ledger) NoticeMessageIDs(ctx context.Context, caseID string, run int) (map[string]string, error) {
	out, err := l.s.userStrings(ctx, `SELECT user_id, message_id FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = $3`, caseID, run, l.ch)
	if err != nil {
		return nil, fmt.Errorf("message ids of run %d: %w", run, err)
	}
	return out, nil
}

// userStrings runs a query of (user_id, text) rows into a map.
func (s *Store) userStrings(ctx context.Context, query string, args ...any) (map[string]string, error) {
	rows, err := s.DB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var u, v string
		if err := rows.Scan(&u, &v); err != nil {
			return nil, err
		}
		out[u] = v
	}
	return out, rows.Err()
}
