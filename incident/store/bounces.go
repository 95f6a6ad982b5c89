package store

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// BounceTarget is the notice a Message-ID belongs to: the earliest run of
// the case whose ledger holds it (a first notice sent in one run keeps its
// Message-ID in the next).
type BounceTarget struct {
	MessageID string `db:"message_id"`
	Run       int    `db:"run"`
	UserID    string `db:"user_id"`
	Kind      string `db:"kind"`
}

// NoticesByMessageID looks up the notices of a case holding the given
// Message-IDs (exactly, as the ledger holds them: <...>). An id no notice
// has is absent from the map.
func (s *Store) NoticesByMessageID(ctx context.Context, caseID string, ids []string) (map[string]BounceTarget, error) {
	var rows []BounceTarget
	err := s.DB.SelectContext(ctx, &rows, `
		SELECT DISTINCT ON (message_id) message_id, run, user_id, kind
		FROM breachctl.notices
		WHERE case_id = $1 AND channel = 'email' AND message_id = ANY($2)
		ORDER BY message_id, run`, caseID, pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("look up notices by Message-ID: %w", err)
	}
	out := make(map[string]BounceTarget, len(rows))
	for _, r := range rows {
		out[r.MessageID] = r
	}
	return out, nil
}

// Bounce is a row of breachctl.notice_bounces: one failed or delayed
// recipient of a delivery status notification, matched to a notice. It
// holds no address.
type Bounce struct {
	BounceTarget
	Status       string `db:"status"`
	Action       string `db:"action"`
	Diagnostic   string `db:"diagnostic"`
	Permanent    bool   `db:"permanent"`
	Source       string `db:"source"`
	Position     int    `db:"position"`
	Recipient    int    `db:"recipient"`
	SourceSHA256 string `db:"source_sha256"`
}

// RecordBounces records bounces of a case in one statement; a bounce
// already recorded (same Message-ID, status, file hash, position and
// recipient) is not recorded again. It returns how many were new.
func (s *Store) RecordBounces(ctx context.Context, caseID string, bs []Bounce) (int, error) {
	if len(bs) == 0 {
		return 0, nil
	}
	var (
		runs, positions, recipients                                  []int64
		users, kinds, ids, statuses, actions, diags, sources, hashes []string
		permanent                                                    []bool
	)
	for _, b := range bs {
		runs = append(runs, int64(b.Run))
		users = append(users, b.UserID)
		kinds = append(kinds, b.Kind)
		ids = append(ids, b.MessageID)
		statuses = append(statuses, b.Status)
		actions = append(actions, b.Action)
		diags = append(diags, b.Diagnostic)
		permanent = append(permanent, b.Permanent)
		sources = append(sources, b.Source)
		positions = append(positions, int64(b.Position))
		recipients = append(recipients, int64(b.Recipient))
		hashes = append(hashes, b.SourceSHA256)
	}
	res, err := s.DB.ExecContext(ctx, `
		INSERT INTO breachctl.notice_bounces (case_id, run, user_id, kind, message_id, status, action, diagnostic,
			permanent, source, position, recipient, source_sha256)
		SELECT $1, b.* FROM unnest($2::integer[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::boolean[], $10::text[], $11::integer[], $12::integer[], $13::text[])
			AS b(run, user_id, kind, message_id, status, action, diagnostic, permanent, source, position, recipient, source_sha256)
		ON CONFLICT DO NOTHING`, caseID,
		pq.Array(runs), pq.Array(users), pq.Array(kinds), pq.Array(ids), pq.Array(statuses), pq.Array(actions),
		pq.Array(diags), pq.Array(permanent), pq.Array(sources), pq.Array(positions), pq.Array(recipients), pq.Array(hashes))
	if err != nil {
		return 0, fmt.Errorf("record bounces: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("record bounces: %w", err)
	}
	return int(n), nil
}

// BounceCounts counts the people of a run's ledger with a recorded bounce
// of one of the run's notices (by Message-ID): Permanent those with a
// permanent (5.x.x) one, Temporary those with temporary ones only.
type BounceCounts struct {
	Permanent int `db:"permanent" json:"permanent"`
	Temporary int `db:"temporary" json:"temporary"`
}

// NoticeBounces summarises the bounces of a run's notices and lists the
// user ids with a permanent bounce.
func (s *Store) NoticeBounces(ctx context.Context, caseID string, run int) (BounceCounts, []string, error) {
	var c BounceCounts
	users := []string{}
	const q = `
		WITH b AS (
			SELECT b.user_id, bool_or(b.permanent) AS permanent
			FROM breachctl.notice_bounces b
			WHERE b.case_id = $1 AND EXISTS (SELECT 1 FROM breachctl.notices n
				WHERE n.case_id = b.case_id AND n.run = $2 AND n.channel = 'email' AND n.message_id = b.message_id)
			GROUP BY b.user_id
		)`
	if err := s.DB.GetContext(ctx, &c, q+`
		SELECT count(*) FILTER (WHERE permanent) AS permanent, count(*) FILTER (WHERE NOT permanent) AS temporary FROM b`,
		caseID, run); err != nil {
		return c, nil, fmt.Errorf("bounces of run %d: %w", run, err)
	}
	if err := s.DB.SelectContext(ctx, &users, q+`SELECT user_id FROM b WHERE permanent ORDER BY user_id`, caseID, run); err != nil {
		return c, nil, fmt.Errorf("bounces of run %d: %w", run, err)
	}
	return c, users, nil
}
