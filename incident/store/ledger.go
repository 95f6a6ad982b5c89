package store

import (
	"context"
	"fmt"
	"time"
)

// Delivery channels (breachctl.notices.channel): one ledger row per
// person, run and channel, each with the same exactly-once guarantees.
const (
	ChannelEmail   = "email"
	ChannelLetter  = "letter"  // a postal letter, handed over to a mailing house in a batch
	ChannelWebhook = "webhook" // an in-app message POSTed to the company's own service
)

// Channels lists the channels the ledger knows, in the default order of
// preference.
var Channels = []string{ChannelEmail, ChannelLetter, ChannelWebhook}

// Ledger states beyond the SMTP ones: a notice that was sent (handed over)
// and later found not to have reached the person.
const (
	NoticeBounced  = "bounced"  // e-mail: a delivery status notification said the address is permanently undeliverable
	NoticeReturned = "returned" // letter: the post returned it (notify mark-returned)
)

// Ledger is the delivery ledger of one channel: the rows of
// breachctl.notices with that channel. Store's notice methods are those
// of the e-mail ledger.
type Ledger struct {
	s  *Store
	ch string
}

// Ledger returns the ledger of a channel.
func (s *Store) Ledger(channel string) *Ledger { return &Ledger{s: s, ch: channel} }

// Channel is the ledger's channel.
func (l *Ledger) Channel() string { return l.ch }

// lockKey is the advisory lock's key: the case id for e-mail (as before
// channels existed), the case id and the channel otherwise, so that the
// channels of one case are sent at the same time.
func (l *Ledger) lockKey(caseID string) string {
	if l.ch == ChannelEmail {
		return caseID
	}
	return caseID + " channel=" + l.ch // a case id has no space
}

func (l *Ledger) onChannel() string {
	if l.ch == ChannelEmail {
		return ""
	}
	return " (channel " + l.ch + ")"
}

func (s *Store) email() *Ledger { return s.Ledger(ChannelEmail) }

// The e-mail ledger's methods, on Store (what callers used before channels).

func (s *Store) SeedNotices(ctx context.Context, caseID string, run int, seeds []NoticeSeed) (SeedResult, error) {
	return s.email().SeedNotices(ctx, caseID, run, seeds)
}
func (s *Store) LockNoticeSender(ctx context.Context, caseID string) (func(), error) {
	return s.email().LockNoticeSender(ctx, caseID)
}
func (s *Store) LockNoticeSenderWatch(ctx context.Context, caseID string, lost func(error)) (func(), error) {
	return s.email().LockNoticeSenderWatch(ctx, caseID, lost)
}
func (s *Store) RecoverSending(ctx context.Context, caseID string, run int) (int, error) {
	return s.email().RecoverSending(ctx, caseID, run)
}
func (s *Store) DueNotices(ctx context.Context, caseID string, run int, after string, limit int, withUncertain bool, only []string) ([]DueNotice, error) {
	return s.email().DueNotices(ctx, caseID, run, after, limit, withUncertain, only)
}
func (s *Store) ClaimNotice(ctx context.Context, caseID string, run int, c NoticeClaim) (*Claimed, error) {
	return s.email().ClaimNotice(ctx, caseID, run, c)
}
func (s *Store) FinishNotice(ctx context.Context, caseID string, run int, o NoticeOutcome) error {
	return s.email().FinishNotice(ctx, caseID, run, o)
}
func (s *Store) FinishAndClaimNotice(ctx context.Context, caseID string, run int, done *NoticeOutcome, claim *NoticeClaim) (*Claimed, error) {
	return s.email().FinishAndClaimNotice(ctx, caseID, run, done, claim)
}
func (s *Store) NoticeRecorder(ctx context.Context) (*NoticeRecorder, error) {
	return s.email().NoticeRecorder(ctx)
}
func (s *Store) FailNotices(ctx context.Context, caseID string, run int, reasons map[string]string) (int, error) {
	return s.email().FailNotices(ctx, caseID, run, reasons)
}
func (s *Store) CountNotices(ctx context.Context, caseID string, run int) (NoticeCounts, error) {
	return s.email().CountNotices(ctx, caseID, run)
}
func (s *Store) NoticeFailures(ctx context.Context, caseID string, run int) ([]NoticeReason, error) {
	return s.email().NoticeFailures(ctx, caseID, run)
}
func (s *Store) UncertainNotices(ctx context.Context, caseID string, run int) ([]string, error) {
	return s.email().UncertainNotices(ctx, caseID, run)
}
func (s *Store) NoticesSentInDoubt(ctx context.Context, caseID string, run int) ([]string, error) {
	return s.email().NoticesSentInDoubt(ctx, caseID, run)
}
func (s *Store) NoticesFailedUncertain(ctx context.Context, caseID string, run int) ([]string, error) {
	return s.email().NoticesFailedUncertain(ctx, caseID, run)
}
func (s *Store) GetNotice(ctx context.Context, caseID string, run int, userID string) (*Notice, error) {
	return s.email().GetNotice(ctx, caseID, run, userID)
}
func (s *Store) NoticeKinds(ctx context.Context, caseID string, run int) (map[string]Notice, error) {
	return s.email().NoticeKinds(ctx, caseID, run)
}
func (s *Store) CountNoticeKinds(ctx context.Context, caseID string, run int) ([]KindCount, error) {
	return s.email().CountNoticeKinds(ctx, caseID, run)
}
func (s *Store) ReconcileRuns(ctx context.Context, caseID string, run int) (int, int, error) {
	return s.email().ReconcileRuns(ctx, caseID, run)
}
func (s *Store) RetryFailed(ctx context.Context, caseID string, run int) (int, error) {
	return s.email().RetryFailed(ctx, caseID, run)
}
func (s *Store) NoticeMessageIDs(ctx context.Context, caseID string, run int) (map[string]string, error) {
	return s.email().NoticeMessageIDs(ctx, caseID, run)
}
func (s *Store) NextDue(ctx context.Context, caseID string, run int, withUncertain bool, only, exclude []string) (time.Duration, bool, error) {
	return s.email().NextDue(ctx, caseID, run, withUncertain, only, exclude)
}

// ChannelStates returns, for each person with a ledger row in the run, the
// state of that row on each channel.
func (s *Store) ChannelStates(ctx context.Context, caseID string, run int) (map[string]map[string]string, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT user_id, channel, state FROM breachctl.notices WHERE case_id = $1 AND run = $2`, caseID, run)
	if err != nil {
		return nil, fmt.Errorf("notices of run %d by channel: %w", run, err)
	}
	defer rows.Close()
	out := map[string]map[string]string{}
	for rows.Next() {
		var u, ch, st string
		if err := rows.Scan(&u, &ch, &st); err != nil {
			return nil, fmt.Errorf("notices of run %d by channel: %w", run, err)
		}
		if out[u] == nil {
			out[u] = map[string]string{}
		}
		out[u][ch] = st
	}
	return out, rows.Err()
}

// Reach counts a run's people in the ledger across its channels: Reached
// have a notice sent (handed over) on some channel; Open have one still to
// go (pending or sending) on some channel; Uncertain one in doubt;
// Unreached every notice failed, bounced or came back.
type Reach struct {
	People    int `db:"people"`
	Reached   int `db:"reached"`
	Open      int `db:"open"`
	Uncertain int `db:"uncertain"`
	Unreached int `db:"unreached"`
}

// ReachOf counts a run's people by what the ledger's channels did for
// them.
func (s *Store) ReachOf(ctx context.Context, caseID string, run int) (Reach, error) {
	var r Reach
	err := s.DB.GetContext(ctx, &r, `
		WITH p AS (
			SELECT user_id, bool_or(state = 'sent') AS reached, bool_or(state IN ('pending', 'sending')) AS open,
				bool_or(state = 'uncertain') AS uncertain
			FROM breachctl.notices WHERE case_id = $1 AND run = $2 GROUP BY user_id)
		SELECT count(*) AS people, count(*) FILTER (WHERE reached) AS reached, count(*) FILTER (WHERE open) AS open,
			count(*) FILTER (WHERE uncertain) AS uncertain,
			count(*) FILTER (WHERE NOT reached AND NOT open AND NOT uncertain) AS unreached
		FROM p`, caseID, run)
	if err != nil {
		return r, fmt.Errorf("people reached in run %d: %w", run, err)
	}
	return r, nil
}

// ChannelCount is a number of a run's notices on one channel in one state.
type ChannelCount struct {
	Channel string `db:"channel" json:"channel"`
	State   string `db:"state" json:"state"`
	N       int    `db:"n" json:"n"`
}

// CountByChannel counts a run's notices by channel and state.
func (s *Store) CountByChannel(ctx context.Context, caseID string, run int) ([]ChannelCount, error) {
	out := []ChannelCount{}
	err := s.DB.SelectContext(ctx, &out, `SELECT channel, state, count(*) AS n FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 GROUP BY channel, state ORDER BY channel, state`, caseID, run)
	if err != nil {
		return nil, fmt.Errorf("notices of run %d by channel: %w", run, err)
	}
	return out, nil
}
