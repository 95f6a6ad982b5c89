package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/lib/pq"
)

// LetterBatch is a row of breachctl.letter_batches.
type LetterBatch struct {
	CaseID       string         `db:"case_id"`
	Batch        int            `db:"batch"`
	Run          int            `db:"run"`
	State        string         `db:"state"`
	OutDir       string         `db:"out_dir"`
	Name         string         `db:"name"`
	Letters      int            `db:"letters"`
	Pages        int            `db:"pages"`
	BatchSHA256  sql.NullString `db:"batch_sha256"`
	CSVSHA256    sql.NullString `db:"csv_sha256"`
	HandedOverAt sql.NullTime   `db:"handed_over_at"`
}

// Letter batch states.
const (
	BatchWriting    = "writing"
	BatchHandedOver = "handed_over"
	BatchAbandoned  = "abandoned"
)

// ClaimedLetter is a letter claimed into a batch.
type ClaimedLetter struct {
	UserID    string `db:"user_id"`
	MessageID string `db:"message_id"`
}

// ClaimLetterBatch creates the case's next letter batch and moves up to
// limit (0: all) of the run's pending letters into it (state sending,
// letter_batch set), in user-id order, in one transaction. Hold the letter
// ledger's lock (LockNoticeSender) around it. name is the batch's
// directory name; %d in it is replaced by the batch number.
func (s *Store) ClaimLetterBatch(ctx context.Context, caseID string, run int, outDir, nameFormat string, limit int) (*LetterBatch, []ClaimedLetter, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("claim letters of run %d: %w", run, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT coalesce(max(batch), 0) + 1 FROM breachctl.letter_batches WHERE case_id = $1`, caseID); err != nil {
		return nil, nil, fmt.Errorf("claim letters of run %d: %w", run, err)
	}
	b := &LetterBatch{CaseID: caseID, Batch: n, Run: run, State: BatchWriting, OutDir: outDir, Name: fmt.Sprintf(nameFormat, n)}
	if _, err := tx.ExecContext(ctx, `INSERT INTO breachctl.letter_batches (case_id, batch, run, out_dir, name) VALUES ($1, $2, $3, $4, $5)`,
		caseID, b.Batch, run, outDir, b.Name); err != nil {
		return nil, nil, fmt.Errorf("claim letters of run %d: %w", run, err)
	}
	var lim any
	if limit > 0 {
		lim = limit
	}
	var ls []ClaimedLetter
	if err := tx.SelectContext(ctx, &ls, `
		WITH due AS (
			SELECT user_id FROM breachctl.notices
			WHERE case_id = $1 AND run = $2 AND channel = 'letter' AND state IN ('pending', 'uncertain')
			ORDER BY length(user_id), user_id LIMIT $4
		)
		UPDATE breachctl.notices n SET state = 'sending', letter_batch = $3, attempts = attempts + 1, sending_at = now(), updated_at = now()
		FROM due WHERE n.case_id = $1 AND n.run = $2 AND n.channel = 'letter' AND n.user_id = due.user_id
		RETURNING n.user_id, n.message_id`, caseID, run, b.Batch, lim); err != nil {
		return nil, nil, fmt.Errorf("claim letters of run %d: %w", run, err)
	}
	if len(ls) == 0 {
		// Nothing due: no batch.
		return nil, nil, nil
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("claim letters of run %d: %w", run, err)
	}
	return b, ls, nil
}

// LetterDone is one letter of a completed batch.
type LetterDone struct {
	UserID string
	SHA256 string // of the person's PDF
}

// HandOverLetterBatch records a batch complete, in one transaction: its
// letters sent (handed over, with their PDF's SHA-256), the ones that
// could not be written failed with their reason (no personal data), and
// the batch handed over with its counts and hashes.
func (s *Store) HandOverLetterBatch(ctx context.Context, b *LetterBatch, done []LetterDone, failed map[string]string) error {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("hand over letter batch %d: %w", b.Batch, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	users, sums := make([]string, len(done)), make([]string, len(done))
	for i, d := range done {
		users[i], sums[i] = d.UserID, d.SHA256
	}
	reply := fmt.Sprintf("handed over in letter batch %d (%s)", b.Batch, b.Name)
	res, err := tx.ExecContext(ctx, `
		UPDATE breachctl.notices n SET state = 'sent', sent_at = now(), updated_at = now(), smtp_reply = $4,
			message_sha256 = d.sum, last_error = NULL
		FROM unnest($5::text[], $6::text[]) AS d(user_id, sum)
		WHERE n.case_id = $1 AND n.run = $2 AND n.channel = 'letter' AND n.letter_batch = $3 AND n.state = 'sending' AND n.user_id = d.user_id`,
		b.CaseID, b.Run, b.Batch, reply, pq.StringArray(users), pq.StringArray(sums))
	if err != nil {
		return fmt.Errorf("hand over letter batch %d: %w", b.Batch, err)
	}
	if n, _ := res.RowsAffected(); int(n) != len(done) {
		return fmt.Errorf("hand over letter batch %d: %d of its %d letters are no longer claimed by it (was the batch abandoned by another notify letters?)", b.Batch, len(done)-int(n), len(done))
	}
	if len(failed) > 0 {
		fu, fr := make([]string, 0, len(failed)), make([]string, 0, len(failed))
		for u, r := range failed {
			fu, fr = append(fu, u), append(fr, r)
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE breachctl.notices n SET state = 'failed', updated_at = now(), last_error = f.reason, letter_batch = NULL
			FROM unnest($4::text[], $5::text[]) AS f(user_id, reason)
			WHERE n.case_id = $1 AND n.run = $2 AND n.channel = 'letter' AND n.letter_batch = $3 AND n.state = 'sending' AND n.user_id = f.user_id`,
			b.CaseID, b.Run, b.Batch, pq.StringArray(fu), pq.StringArray(fr)); err != nil {
			return fmt.Errorf("hand over letter batch %d: %w", b.Batch, err)
		}
	}
	var left int
	if err := tx.GetContext(ctx, &left, `SELECT count(*) FROM breachctl.notices WHERE case_id = $1 AND channel = 'letter' AND letter_batch = $2 AND state = 'sending'`,
		b.CaseID, b.Batch); err != nil {
		return fmt.Errorf("hand over letter batch %d: %w", b.Batch, err)
	}
	if left > 0 {
		return fmt.Errorf("hand over letter batch %d: %d of its letters were neither written nor failed", b.Batch, left)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE breachctl.letter_batches SET state = 'handed_over', handed_over_at = now(), letters = $3, pages = $4,
		batch_sha256 = $5, csv_sha256 = $6 WHERE case_id = $1 AND batch = $2 AND state = 'writing'`,
		b.CaseID, b.Batch, len(done), b.Pages, b.BatchSHA256, b.CSVSHA256); err != nil {
		return fmt.Errorf("hand over letter batch %d: %w", b.Batch, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("hand over letter batch %d: %w", b.Batch, err)
	}
	return nil
}

// AbandonLetterBatches marks the case's batches still `writing` abandoned
// and puts their letters back to pending: such a batch was never complete
// (its directory is still .partial), so none of its letters was handed
// over. Call it holding the letter ledger's lock. It returns the batches.
func (s *Store) AbandonLetterBatches(ctx context.Context, caseID string) ([]LetterBatch, error) {
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("abandon letter batches: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var bs []LetterBatch
	if err := tx.SelectContext(ctx, &bs, `UPDATE breachctl.letter_batches SET state = 'abandoned'
		WHERE case_id = $1 AND state = 'writing'
		RETURNING case_id, batch, run, state, out_dir, name, letters, pages, batch_sha256, csv_sha256, handed_over_at`, caseID); err != nil {
		return nil, fmt.Errorf("abandon letter batches: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE breachctl.notices SET state = 'pending', letter_batch = NULL, updated_at = now(),
		attempts = greatest(0, attempts - 1)
		WHERE case_id = $1 AND channel = 'letter' AND state = 'sending'`, caseID); err != nil {
		return nil, fmt.Errorf("abandon letter batches: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("abandon letter batches: %w", err)
	}
	return bs, nil
}

// LetterBatches lists the case's letter batches in order.
func (s *Store) LetterBatches(ctx context.Context, caseID string) ([]LetterBatch, error) {
	bs := []LetterBatch{}
	if err := s.DB.SelectContext(ctx, &bs, `SELECT case_id, batch, run, state, out_dir, name, letters, pages, batch_sha256, csv_sha256, handed_over_at
		FROM breachctl.letter_batches WHERE case_id = $1 ORDER BY batch`, caseID); err != nil {
		return nil, fmt.Errorf("letter batches: %w", err)
	}
	return bs, nil
}

// ErrNotSent is returned for a person whose notice on the channel was not
// sent (handed over), so it cannot have bounced or come back.
var ErrNotSent = errors.New("no sent notice")

// MarkUnreached records that sent notices did not reach their people:
// e-mail ones bounced (state bounced), letters returned by the post
// (state returned). ids are the Message-IDs (e-mail: from the bounces) or
// the user ids of run (letters); every row of the case holding the same
// notice on that channel (a later run's "already sent" copy) changes with
// it. It returns the user ids changed and the ids that match no sent
// notice.
func (s *Store) MarkUnreached(ctx context.Context, caseID string, run int, channel string, ids []string) (changed, unmatched []string, err error) {
	var state, byCol, from string
	switch channel {
	case ChannelEmail:
		// A DSN proves the server took the message: a notice in doubt
		// (uncertain, or failed with its delivery unknown) bounced too.
		state, byCol, from = NoticeBounced, "message_id", "('sent', 'uncertain', 'failed')"
	case ChannelLetter:
		state, byCol, from = NoticeReturned, "user_id", "('sent')"
	default:
		return nil, nil, fmt.Errorf("mark notices unreached: channel %s has no bounces or returns", channel)
	}
	return s.markUnreached(ctx, caseID, runFilter(channel, run), channel, state, byCol, from, ids)
}

// MarkLettersReturned records letters the post returned by their notice's
// Message-ID (mailing.csv's message_id), in whichever run they were
// handed over: MarkUnreached for letters named exactly.
func (s *Store) MarkLettersReturned(ctx context.Context, caseID string, messageIDs []string) (changed, unmatched []string, err error) {
	return s.markUnreached(ctx, caseID, 0, ChannelLetter, NoticeReturned, "message_id", "('sent')", messageIDs)
}

func (s *Store) markUnreached(ctx context.Context, caseID string, run int, channel, state, byCol, from string, ids []string) (changed, unmatched []string, err error) {
	var rows []struct {
		ID     string `db:"id"`
		UserID string `db:"user_id"`
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	// Only the rows this statement changed, or found so already, count: a
	// notice a sender holds (sending) at this moment is not marked.
	err = s.DB.SelectContext(ctx, &rows, `
		WITH target AS (
			SELECT message_id, user_id, `+byCol+` AS id, bool_or(state = $4) AS already FROM breachctl.notices
			WHERE case_id = $1 AND channel = $2 AND `+byCol+` = ANY($3) AND (state IN `+from+` OR state = $4)
			  AND ($5 = 0 OR run = $5)
			GROUP BY 1, 2, 3
		), u AS (
			UPDATE breachctl.notices n SET state = $4, updated_at = now()
			FROM target t WHERE n.case_id = $1 AND n.channel = $2 AND n.message_id = t.message_id AND n.user_id = t.user_id AND n.state IN `+from+`
			RETURNING n.user_id, n.message_id)
		SELECT DISTINCT t.id, t.user_id FROM target t
		WHERE t.already OR EXISTS (SELECT 1 FROM u WHERE u.user_id = t.user_id AND u.message_id = t.message_id)`,
		caseID, channel, pq.StringArray(ids), state, run)
	if err != nil {
		return nil, nil, fmt.Errorf("mark %s notices %s: %w", channel, state, err)
	}
	found := map[string]bool{}
	for _, r := range rows {
		found[r.ID] = true
		changed = append(changed, r.UserID)
	}
	for _, id := range ids {
		if !found[id] {
			unmatched = append(unmatched, id)
		}
	}
	return changed, unmatched, nil
}

// runFilter: letters are named by user id within a run; a Message-ID
// names its notice in every run.
func runFilter(channel string, run int) int {
	if channel == ChannelLetter {
		return run
	}
	return 0
}
