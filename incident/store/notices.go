package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Notice states in the delivery ledger (breachctl.notices).
const (
	NoticePending   = "pending"   // to send (now, or at next_attempt_at after a temporary failure)
	NoticeSending   = "sending"   // claimed by a sender; committed before the SMTP transaction starts
	NoticeSent      = "sent"      // the server accepted the message
	NoticeFailed    = "failed"    // permanently refused, out of attempts, or the message could not be made
	NoticeUncertain = "uncertain" // the sender stopped, or the connection broke, mid-transaction: delivered or not, nobody knows
)

// A notice in doubt is one with uncertain_count > 0: at least one of its
// SMTP transactions ended without the server's answer after the message was
// handed over. Sent in doubt: the person may have it twice (same
// Message-ID). Failed in doubt ("failed, delivery unknown"): the sender gave
// up, typically at --max-attempts after the connection broke each time, and
// the person may or may not have it.

// NoticeChannel is the e-mail channel (ChannelEmail), the default.
const NoticeChannel = "email"

// ErrNoticeSenderBusy is returned by LockNoticeSender when another sender
// holds the case.
var ErrNoticeSenderBusy = errors.New("another breachctl notify send is running for this case")

// ErrNotClaimable is returned by ClaimNotice when the notice is no longer in
// the state the caller saw (another worker took it, or it is not due yet).
var ErrNotClaimable = errors.New("notice not claimable")

// NoticeSeed is one person to notify in a run.
type NoticeSeed struct {
	UserID    string
	MessageID string
	State     string // NoticePending, or NoticeFailed when no message can be made (LastError says why)
	LastError string // no personal data
	// Kind is NoticeFirst (default), NoticeUpdate or NoticeCorrection;
	// RefersTo the first notice's Message-ID (updates, corrections);
	// BasisRun the run whose affected row the notice describes (default
	// the seeded run).
	Kind     string
	RefersTo string
	BasisRun int
}

// SeedResult says what SeedNotices did.
type SeedResult struct {
	Added       int // rows created
	SentEarlier int // of those, people already sent this case's notice in an earlier run, recorded as sent
}

// seedChunk bounds the arrays of one seeding statement.
const seedChunk = 20000

// SeedNotices creates the ledger rows of a run, one per person, in one
// transaction. Seeding again is a no-op for the rows that exist. A notice
// already sent in another run is recorded as sent, with that run's time,
// so a revised count never resends: the same Message-ID, or for a first
// notice any first notice of the person (its Message-ID is kept, even if
// the case file's sender changed since). An update has a Message-ID of its
// own run: it is never taken for an earlier notice.
func (l *Ledger) SeedNotices(ctx context.Context, caseID string, run int, seeds []NoticeSeed) (SeedResult, error) {
	s := l.s
	var res SeedResult
	for i := range seeds {
		sd := &seeds[i]
		if sd.Kind == "" {
			sd.Kind = NoticeFirst
		}
		if sd.BasisRun == 0 {
			sd.BasisRun = run
		}
		if sd.Kind != NoticeFirst && sd.Kind != NoticeUpdate && sd.Kind != NoticeCorrection {
			return res, fmt.Errorf("seed notice for user %s: kind %q", sd.UserID, sd.Kind)
		}
		if sd.State != NoticePending && sd.State != NoticeFailed {
			return res, fmt.Errorf("seed notice for user %s: state %q, want %s or %s", sd.UserID, sd.State, NoticePending, NoticeFailed)
		}
		if sd.UserID == "" || sd.MessageID == "" {
			return res, fmt.Errorf("seed notice for user %q: user id and message id are required", sd.UserID)
		}
	}
	tx, err := s.DB.BeginTxx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("seed notices of run %d: %w", run, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	// Seeds are matched with the other runs' notices by person: a hash
	// join (see hashJoins).
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_nestloop = off`); err != nil {
		return res, fmt.Errorf("seed notices of run %d: %w", run, err)
	}
	for lo := 0; lo < len(seeds); lo += seedChunk {
		hi := min(lo+seedChunk, len(seeds))
		n := hi - lo
		users, ids, states, errs := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		kinds, refs, bases := make([]string, 0, n), make([]string, 0, n), make([]int64, 0, n)
		for _, sd := range seeds[lo:hi] {
			users = append(users, sd.UserID)
			ids = append(ids, sd.MessageID)
			states = append(states, sd.State)
			errs = append(errs, sd.LastError)
			kinds = append(kinds, sd.Kind)
			refs = append(refs, sd.RefersTo)
			bases = append(bases, int64(sd.BasisRun))
		}
		var r SeedResult
		if err := tx.QueryRowxContext(ctx, seedNoticesSQL, caseID, run,
			pq.StringArray(users), pq.StringArray(ids), pq.StringArray(states), pq.StringArray(errs),
			pq.StringArray(kinds), pq.StringArray(refs), pq.Int64Array(bases), l.ch).Scan(&r.Added, &r.SentEarlier); err != nil {
			return res, fmt.Errorf("seed notices of run %d: %w", run, err)
		}
		res.Added += r.Added
		res.SentEarlier += r.SentEarlier
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("seed notices of run %d: %w", run, err)
	}
	return res, nil
}

const seedNoticesSQL = `
WITH s AS (
	SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
		AS s(user_id, message_id, state, last_error, kind, refers_to, basis_run)
), prev AS (
	SELECT DISTINCT ON (s.user_id) s.user_id, p.run, p.message_id, p.sent_at, p.uncertain_count, coalesce(p.basis_run, p.run) AS basis_run, p.state
	FROM s JOIN breachctl.notices p
	  ON p.case_id = $1 AND p.run <> $2 AND p.channel = $10 AND p.state IN ('sent', 'bounced', 'returned') AND p.user_id = s.user_id
	 AND (p.message_id = s.message_id OR (p.kind = 'first' AND s.kind = 'first'))
	ORDER BY s.user_id, p.sent_at, p.run
), ins AS (
	INSERT INTO breachctl.notices (case_id, run, user_id, channel, state, message_id, last_error, smtp_reply, sent_at, uncertain_count,
		kind, refers_to, basis_run)
	SELECT $1, $2, s.user_id, $10,
		CASE WHEN prev.user_id IS NULL THEN s.state ELSE prev.state END,
		coalesce(prev.message_id, s.message_id),
		CASE WHEN prev.user_id IS NULL THEN nullif(s.last_error, '') END,
		CASE WHEN prev.user_id IS NOT NULL THEN 'already sent in run ' || prev.run || '; not sent again' END,
		prev.sent_at,
		coalesce(prev.uncertain_count, 0),
		s.kind, nullif(s.refers_to, ''), coalesce(prev.basis_run, s.basis_run)
	FROM s LEFT JOIN prev ON prev.user_id = s.user_id
	ON CONFLICT DO NOTHING
	RETURNING state, smtp_reply
)
SELECT count(*), count(*) FILTER (WHERE smtp_reply LIKE 'already sent in run %') FROM ins`

// LockNoticeSender makes the caller the only sender of a case: a
// session-level PostgreSQL advisory lock held on a dedicated connection
// until release is called (or the process dies). It returns
// ErrNoticeSenderBusy when another sender holds it.
func (l *Ledger) LockNoticeSender(ctx context.Context, caseID string) (release func(), err error) {
	return l.LockNoticeSenderWatch(ctx, caseID, nil)
}

// LockNoticeSenderWatch is LockNoticeSender that also checks, every
// second, that the lock's connection is alive: if it dies, the lock is gone
// (another sender could start) and lost is called once with the error, so
// the sender can stop at once.
func (l *Ledger) LockNoticeSenderWatch(ctx context.Context, caseID string, lost func(error)) (release func(), err error) {
	s, key := l.s, l.lockKey(caseID)
	conn, err := s.DB.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock case %s for sending: %w", caseID, err)
	}
	var ok bool
	if err := conn.GetContext(ctx, &ok, `SELECT pg_try_advisory_lock($1, hashtext($2))`, senderLockSpace, key); err != nil {
		conn.Close()
		return nil, fmt.Errorf("lock case %s for sending: %w", caseID, err)
	}
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("case %s%s: %w", caseID, l.onChannel(), ErrNoticeSenderBusy)
	}
	var mu sync.Mutex // the watcher and release share the connection
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if lost == nil {
			<-stop
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			mu.Lock()
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, err := conn.ExecContext(pctx, `SELECT 1`)
			cancel()
			mu.Unlock()
			if err != nil {
				lost(fmt.Errorf("case %s: the connection holding the sender lock broke: %w", caseID, err))
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			mu.Lock()
			defer mu.Unlock()
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _ = conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1, hashtext($2))`, senderLockSpace, key)
			conn.Close()
		})
	}, nil
}

// senderLockSpace is the first key of the two-key advisory locks that
// serialise senders (the second is the case id's hash).
const senderLockSpace int32 = 731028201

// RecoverSending marks every notice of the case left in `sending` as
// `uncertain`. Call it only while holding LockNoticeSender: a row in
// `sending` is then from a sender that died mid-transaction. It returns the
// number of rows recovered in the given run.
func (l *Ledger) RecoverSending(ctx context.Context, caseID string, run int) (int, error) {
	var n int
	err := l.s.DB.GetContext(ctx, &n, `
		WITH r AS (
			UPDATE breachctl.notices SET state = 'uncertain', uncertain_count = uncertain_count + 1, updated_at = now(), next_attempt_at = NULL,
				last_error = 'the sender stopped during the SMTP transaction: the message may or may not have been delivered'
			WHERE case_id = $1 AND channel = $3 AND state = 'sending'
			RETURNING run)
		SELECT count(*) FROM r WHERE run = $2`, caseID, run, l.ch)
	if err != nil {
		return 0, fmt.Errorf("recover notices of case %s: %w", caseID, err)
	}
	return n, nil
}

// DueNotice is a notice ready to be claimed.
type DueNotice struct {
	UserID string `db:"user_id"`
	State  string `db:"state"` // NoticePending or NoticeUncertain
}

// DueNotices lists, in user-id order after `after`, up to limit notices that
// can be sent now: pending ones and, when withUncertain is set, uncertain
// ones, whose retry time (if any) has come. A non-nil only restricts the
// list to those user ids.
func (l *Ledger) DueNotices(ctx context.Context, caseID string, run int, after string, limit int, withUncertain bool, only []string) ([]DueNotice, error) {
	var onlyArr any
	if only != nil {
		onlyArr = pq.StringArray(only)
	}
	var ds []DueNotice
	err := l.s.DB.SelectContext(ctx, &ds, `
		SELECT user_id, state FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = $7 AND user_id > $3
		  AND (state = 'pending' OR (state = 'uncertain' AND $5::boolean))
		  AND (next_attempt_at IS NULL OR next_attempt_at <= now())
		  AND ($6::text[] IS NULL OR user_id = ANY($6::text[]))
		ORDER BY user_id LIMIT $4`, caseID, run, after, limit, withUncertain, onlyArr, l.ch)
	if err != nil {
		return nil, fmt.Errorf("notices due in run %d: %w", run, err)
	}
	return ds, nil
}

// NextDue returns how long until the next notice not in exclude becomes
// due (zero when one is due now), and false when none is left to send.
func (l *Ledger) NextDue(ctx context.Context, caseID string, run int, withUncertain bool, only, exclude []string) (time.Duration, bool, error) {
	var onlyArr any
	if only != nil {
		onlyArr = pq.StringArray(only)
	}
	if exclude == nil {
		exclude = []string{}
	}
	var secs sql.NullFloat64
	err := l.s.DB.GetContext(ctx, &secs, `
		SELECT extract(epoch FROM min(coalesce(next_attempt_at, now())) - now())::float8
		FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = $6
		  AND (state = 'pending' OR (state = 'uncertain' AND $3::boolean))
		  AND ($4::text[] IS NULL OR user_id = ANY($4::text[]))
		  AND NOT (user_id = ANY($5::text[]))`, caseID, run, withUncertain, onlyArr, pq.StringArray(exclude), l.ch)
	if err != nil {
		return 0, false, fmt.Errorf("next notice due in run %d: %w", run, err)
	}
	if !secs.Valid {
		return 0, false, nil
	}
	return max(0, time.Duration(secs.Float64*float64(time.Second))), true, nil
}

// NoticeClaim names a notice to move to `sending`, provided it is still in
// State (and, when pending, due).
type NoticeClaim struct {
	UserID string
	State  string
}

// Claimed is a notice moved to `sending`.
type Claimed struct {
	UserID         string
	MessageID      string
	Attempts       int // including this one
	UncertainCount int
	WasState       string
}

// NoticeOutcome is how a claimed notice's SMTP transaction ended.
type NoticeOutcome struct {
	UserID string
	// State is NoticeSent, NoticeFailed, NoticePending or NoticeUncertain
	// (retry at NextAttemptAt, or at once when zero).
	State         string
	SMTPReply     string // the server's last reply, no personal data; "" keeps the stored one
	LastError     string // "" keeps the stored one
	NextAttemptAt time.Time
	// AttemptsDelta corrects the attempt count the claim added: -1 when no
	// SMTP transaction was tried, +k for k extra tries on new connections.
	AttemptsDelta int
	// InDoubt records that this transaction ended in doubt (the message was
	// handed over, the server's answer never came) although State is not
	// NoticeUncertain: a notice that failed with its delivery unknown.
	// NoticeUncertain always counts as in doubt.
	InDoubt bool
	// MessageSHA256 and MessageDate describe the message of this attempt;
	// they are recorded when it was handed over (sent, uncertain, or
	// failed in doubt).
	MessageSHA256 string
	MessageDate   time.Time
}

// ClaimNotice moves one notice to `sending`, committed. It returns
// ErrNotClaimable when the notice is no longer in c.State or not due.
func (l *Ledger) ClaimNotice(ctx context.Context, caseID string, run int, c NoticeClaim) (*Claimed, error) {
	return l.FinishAndClaimNotice(ctx, caseID, run, nil, &c)
}

// FinishNotice records the outcome of a claimed notice's SMTP transaction.
func (l *Ledger) FinishNotice(ctx context.Context, caseID string, run int, o NoticeOutcome) error {
	_, err := l.FinishAndClaimNotice(ctx, caseID, run, &o, nil)
	return err
}

// FinishAndClaimNotice records the outcome of one notice (when done is not
// nil) and claims the next (when claim is not nil) in a single statement,
// so a sender commits once per message. The claimed notice is returned, or
// ErrNotClaimable (the outcome is recorded all the same).
func (l *Ledger) FinishAndClaimNotice(ctx context.Context, caseID string, run int, done *NoticeOutcome, claim *NoticeClaim) (*Claimed, error) {
	return finishAndClaim(ctx, func(dest any, args ...any) error {
		return l.s.DB.GetContext(ctx, dest, finishAndClaimSQL, args...)
	}, caseID, run, l.ch, done, claim)
}

// NoticeRecorder runs FinishAndClaimNotice as a statement prepared on a
// dedicated connection: a sender worker's hot path, one round trip and one
// commit per message, whatever the pool's idle-connection limit.
type NoticeRecorder struct {
	conn *sqlx.Conn
	stmt *sqlx.Stmt
	ch   string
}

// NoticeRecorder opens a dedicated connection and prepares the sender's
// statement on it; Close it when done.
func (l *Ledger) NoticeRecorder(ctx context.Context) (*NoticeRecorder, error) {
	conn, err := l.s.DB.Connx(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to record notices: %w", err)
	}
	stmt, err := conn.PreparexContext(ctx, finishAndClaimSQL)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("prepare the notice ledger statement: %w", err)
	}
	return &NoticeRecorder{conn: conn, stmt: stmt, ch: l.ch}, nil
}

// FinishAndClaim is Store.FinishAndClaimNotice.
func (r *NoticeRecorder) FinishAndClaim(ctx context.Context, caseID string, run int, done *NoticeOutcome, claim *NoticeClaim) (*Claimed, error) {
	return finishAndClaim(ctx, func(dest any, args ...any) error {
		return r.stmt.GetContext(ctx, dest, args...)
	}, caseID, run, r.ch, done, claim)
}

// Close releases the statement and the connection.
func (r *NoticeRecorder) Close() error {
	err := r.stmt.Close()
	if cerr := r.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

func finishAndClaim(ctx context.Context, get func(dest any, args ...any) error, caseID string, run int, channel string, done *NoticeOutcome, claim *NoticeClaim) (*Claimed, error) {
	if done != nil {
		switch done.State {
		case NoticeSent, NoticeFailed, NoticePending, NoticeUncertain:
		default:
			return nil, fmt.Errorf("finish notice of user %s: bad state %q", done.UserID, done.State)
		}
	}
	var (
		dUser, dState, dReply, dErr sql.NullString
		dNext                       sql.NullTime
		dDelta                      int
		dDoubt                      bool
		dSum                        sql.NullString
		dDate                       sql.NullTime
		cUser, cState               sql.NullString
	)
	if done != nil {
		dUser = sql.NullString{String: done.UserID, Valid: true}
		dState = sql.NullString{String: done.State, Valid: true}
		dReply = sql.NullString{String: done.SMTPReply, Valid: done.SMTPReply != ""}
		dErr = sql.NullString{String: done.LastError, Valid: done.LastError != ""}
		dNext = sql.NullTime{Time: done.NextAttemptAt, Valid: !done.NextAttemptAt.IsZero()}
		dDelta = done.AttemptsDelta
		dDoubt = done.InDoubt
		dSum = sql.NullString{String: done.MessageSHA256, Valid: done.MessageSHA256 != ""}
		dDate = sql.NullTime{Time: done.MessageDate, Valid: !done.MessageDate.IsZero()}
	}
	if claim != nil {
		cUser = sql.NullString{String: claim.UserID, Valid: true}
		cState = sql.NullString{String: claim.State, Valid: true}
	}
	var row struct {
		Finished       int            `db:"finished"`
		UserID         sql.NullString `db:"user_id"`
		MessageID      sql.NullString `db:"message_id"`
		Attempts       sql.NullInt64  `db:"attempts"`
		UncertainCount sql.NullInt64  `db:"uncertain_count"`
	}
	err := get(&row, caseID, run, dUser, dState, dReply, dErr, dNext, dDelta, cUser, cState, dDoubt, dSum, dDate, channel)
	if err != nil {
		what := "claim notice of user " + cUser.String
		if done != nil {
			what = "record outcome for user " + done.UserID
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if done != nil && row.Finished != 1 {
		return nil, fmt.Errorf("record outcome for user %s: notice is not in state sending", done.UserID)
	}
	if claim == nil {
		return nil, nil
	}
	if !row.UserID.Valid {
		return nil, fmt.Errorf("user %s: %w", claim.UserID, ErrNotClaimable)
	}
	return &Claimed{
		UserID:         row.UserID.String,
		MessageID:      row.MessageID.String,
		Attempts:       int(row.Attempts.Int64),
		UncertainCount: int(row.UncertainCount.Int64),
		WasState:       claim.State,
	}, nil
}

const finishAndClaimSQL = `
WITH done AS (
	UPDATE breachctl.notices SET
		state = $4::text,
		updated_at = now(),
		smtp_reply = coalesce($5::text, smtp_reply),
		last_error = coalesce($6::text, last_error),
		next_attempt_at = CASE WHEN $4::text IN ('pending', 'uncertain') THEN $7::timestamptz END,
		sent_at = CASE WHEN $4::text = 'sent' THEN now() ELSE sent_at END,
		uncertain_count = uncertain_count + CASE WHEN $4::text = 'uncertain' OR $11::boolean THEN 1 ELSE 0 END,
		attempts = greatest(0, attempts + $8::integer),
		message_sha256 = CASE WHEN $4::text IN ('sent', 'uncertain') OR $11::boolean THEN coalesce($12::text, message_sha256) ELSE message_sha256 END,
		message_date = CASE WHEN $4::text IN ('sent', 'uncertain') OR $11::boolean THEN coalesce($13::timestamptz, message_date) ELSE message_date END
	WHERE $3::text IS NOT NULL AND case_id = $1 AND run = $2 AND user_id = $3::text AND channel = $14::text AND state = 'sending'
	RETURNING 1
), claim AS (
	UPDATE breachctl.notices SET state = 'sending', attempts = attempts + 1, sending_at = now(), updated_at = now()
	WHERE $9::text IS NOT NULL AND case_id = $1 AND run = $2 AND user_id = $9::text AND channel = $14::text
	  AND state = $10::text AND state IN ('pending', 'uncertain')
	  AND (next_attempt_at IS NULL OR next_attempt_at <= now())
	RETURNING user_id, message_id, attempts, uncertain_count
)
SELECT (SELECT count(*) FROM done) AS finished, c.user_id, c.message_id, c.attempts, c.uncertain_count
FROM (SELECT 1) one LEFT JOIN claim c ON true`

// FailNotices marks notices that cannot be sent (their message could not
// be made) as failed with a reason, if they are still pending; uncertain
// ones keep their state (they may have been delivered) with the reason.
// reasons maps user id to reason (no personal data).
func (l *Ledger) FailNotices(ctx context.Context, caseID string, run int, reasons map[string]string) (int, error) {
	if len(reasons) == 0 {
		return 0, nil
	}
	users, why := make([]string, 0, len(reasons)), make([]string, 0, len(reasons))
	for u, r := range reasons {
		users = append(users, u)
		why = append(why, r)
	}
	// An uncertain notice may have been delivered: it stays uncertain (in
	// doubt, listed by notify status), only its reason is updated.
	var n int
	err := l.s.DB.GetContext(ctx, &n, `
		WITH u AS (UPDATE breachctl.notices n SET
			state = CASE WHEN n.state = 'uncertain' THEN 'uncertain' ELSE 'failed' END,
			last_error = CASE WHEN n.state = 'uncertain' THEN 'may have been delivered earlier; cannot be sent again: ' || f.reason ELSE f.reason END,
			next_attempt_at = NULL, updated_at = now()
		FROM unnest($3::text[], $4::text[]) AS f(user_id, reason)
		WHERE n.case_id = $1 AND n.run = $2 AND n.channel = $5 AND n.user_id = f.user_id
		  AND n.state IN ('pending', 'uncertain')
		RETURNING n.state)
		SELECT count(*) FILTER (WHERE state = 'failed') FROM u`, caseID, run, pq.StringArray(users), pq.StringArray(why), l.ch)
	if err != nil {
		return 0, fmt.Errorf("mark %d notices failed: %w", len(reasons), err)
	}
	return n, nil
}

// NoticeCounts are a run's ledger rows by state.
type NoticeCounts struct {
	Total     int `db:"total" json:"total"`
	Pending   int `db:"pending" json:"pending"`
	Sending   int `db:"sending" json:"sending"`
	Sent      int `db:"sent" json:"sent"`
	Failed    int `db:"failed" json:"failed"`
	Uncertain int `db:"uncertain" json:"uncertain"`
	// Retrying counts the pending notices that already failed temporarily
	// and wait for their next attempt.
	Retrying int `db:"retrying" json:"retrying"`
	// SentInDoubt counts the sent notices that were once uncertain: their
	// recipient may have received the message twice (same Message-ID).
	SentInDoubt int `db:"sent_in_doubt" json:"sent_in_doubt"`
	// FailedUncertain counts the failed notices whose delivery is unknown
	// (in doubt: typically out of attempts after the connection broke each
	// time after the message was handed over). They are included in Failed.
	FailedUncertain int `db:"failed_uncertain" json:"failed_uncertain"`
	// Bounced counts e-mail notices the server accepted and a delivery
	// status notification later reported permanently undeliverable;
	// Returned, letters the post returned (notify mark-returned). Neither
	// reached the person: they are due on the policy's next channel.
	Bounced  int `db:"bounced" json:"bounced"`
	Returned int `db:"returned" json:"returned"`
}

// CountNotices counts a run's notices by state.
func (l *Ledger) CountNotices(ctx context.Context, caseID string, run int) (NoticeCounts, error) {
	var c NoticeCounts
	err := l.s.DB.GetContext(ctx, &c, `
		SELECT count(*) AS total,
			count(*) FILTER (WHERE state = 'pending') AS pending,
			count(*) FILTER (WHERE state = 'sending') AS sending,
			count(*) FILTER (WHERE state = 'sent') AS sent,
			count(*) FILTER (WHERE state = 'failed') AS failed,
			count(*) FILTER (WHERE state = 'uncertain') AS uncertain,
			count(*) FILTER (WHERE state = 'pending' AND attempts > 0) AS retrying,
			count(*) FILTER (WHERE state = 'sent' AND uncertain_count > 0) AS sent_in_doubt,
			count(*) FILTER (WHERE state = 'failed' AND uncertain_count > 0) AS failed_uncertain,
			count(*) FILTER (WHERE state = 'bounced') AS bounced,
			count(*) FILTER (WHERE state = 'returned') AS returned
		FROM breachctl.notices WHERE case_id = $1 AND run = $2 AND channel = $3`, caseID, run, l.ch)
	if err != nil {
		return c, fmt.Errorf("count notices of run %d: %w", run, err)
	}
	return c, nil
}

// NoticeReason is a number of notices sharing one failure reason.
type NoticeReason struct {
	Reason string `db:"reason" json:"reason"`
	Count  int    `db:"count" json:"count"`
}

// NoticeFailures groups a run's failed notices by reason (the server's
// reply or the error), most frequent first.
func (l *Ledger) NoticeFailures(ctx context.Context, caseID string, run int) ([]NoticeReason, error) {
	rs := []NoticeReason{}
	err := l.s.DB.SelectContext(ctx, &rs, `
		SELECT coalesce(nullif(last_error, ''), nullif(smtp_reply, ''), 'unknown') AS reason, count(*) AS count
		FROM breachctl.notices WHERE case_id = $1 AND run = $2 AND channel = $3 AND state = 'failed'
		GROUP BY 1 ORDER BY 2 DESC, 1`, caseID, run, l.ch)
	if err != nil {
		return nil, fmt.Errorf("failed notices of run %d: %w", run, err)
	}
	return rs, nil
}

// UncertainNotices lists the user ids of a run's uncertain notices.
func (l *Ledger) UncertainNotices(ctx context.Context, caseID string, run int) ([]string, error) {
	return l.noticeUsers(ctx, caseID, run, `state = 'uncertain'`)
}

// NoticesSentInDoubt lists the user ids whose notice was sent after being
// uncertain: they may have received it twice, with the same Message-ID.
func (l *Ledger) NoticesSentInDoubt(ctx context.Context, caseID string, run int) ([]string, error) {
	return l.noticeUsers(ctx, caseID, run, `state = 'sent' AND uncertain_count > 0`)
}

// NoticesFailedUncertain lists the user ids whose notice failed with its
// delivery unknown: they may or may not have received it.
func (l *Ledger) NoticesFailedUncertain(ctx context.Context, caseID string, run int) ([]string, error) {
	return l.noticeUsers(ctx, caseID, run, `state = 'failed' AND uncertain_count > 0`)
}

func (l *Ledger) noticeUsers(ctx context.Context, caseID string, run int, cond string) ([]string, error) {
	ids := []string{}
	err := l.s.DB.SelectContext(ctx, &ids, `SELECT user_id FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = $3 AND `+cond+` ORDER BY user_id`, caseID, run, l.ch)
	if err != nil {
		return nil, fmt.Errorf("notices of run %d: %w", run, err)
	}
	return ids, nil
}

// Notice is a row of breachctl.notices.
type Notice struct {
	CaseID         string         `db:"case_id"`
	Run            int            `db:"run"`
	UserID         string         `db:"user_id"`
	Channel        string         `db:"channel"`
	State          string         `db:"state"`
	Attempts       int            `db:"attempts"`
	MessageID      string         `db:"message_id"`
	LastError      sql.NullString `db:"last_error"`
	SMTPReply      sql.NullString `db:"smtp_reply"`
	NextAttemptAt  sql.NullTime   `db:"next_attempt_at"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
	SendingAt      sql.NullTime   `db:"sending_at"`
	SentAt         sql.NullTime   `db:"sent_at"`
	UncertainCount int            `db:"uncertain_count"`
	// Kind: first, update or correction (NoticeFirst ...); RefersTo the
	// Message-ID of the first notice an update or correction follows;
	// BasisRun the run whose affected row the notice describes.
	Kind     string         `db:"kind"`
	RefersTo sql.NullString `db:"refers_to"`
	BasisRun sql.NullInt64  `db:"basis_run"`
	// MessageSHA256 and MessageDate describe the message handed to the
	// SMTP server (sent, or in doubt): its SHA-256 and its Date header, so
	// the notice can be shown as the person received it (re-rendered with
	// that date and compared). Empty for notices sent before they were
	// recorded.
	MessageSHA256 sql.NullString `db:"message_sha256"`
	MessageDate   sql.NullTime   `db:"message_date"`
}

// Notice kinds.
const (
	NoticeFirst      = "first"
	NoticeUpdate     = "update"
	NoticeCorrection = "correction"
)

// GetNotice returns one person's notice in a run, or ErrNotFound.
func (l *Ledger) GetNotice(ctx context.Context, caseID string, run int, userID string) (*Notice, error) {
	var n Notice
	err := l.s.DB.GetContext(ctx, &n, `SELECT case_id, run, user_id, channel, state, attempts, message_id, last_error,
		smtp_reply, next_attempt_at, created_at, updated_at, sending_at, sent_at, uncertain_count, kind, refers_to, basis_run,
		message_sha256, message_date
		FROM breachctl.notices WHERE case_id = $1 AND run = $2 AND user_id = $3 AND channel = $4`, caseID, run, userID, l.ch)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("notice of user %s in run %d: %w", userID, run, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("notice of user %s in run %d: %w", userID, run, err)
	}
	return &n, nil
}
