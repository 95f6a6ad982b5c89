package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/pgtest"
)

func noticeStore(t *testing.T) (*Store, string, int) {
	t.Helper()
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.UpsertCase(ctx, Case{ID: "c1", Title: "t", CaseFile: "f", CaseFileSHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	run, err := s.NewRun(ctx, "c1", "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return s, "c1", run
}

func seeds(n int) []NoticeSeed {
	out := make([]NoticeSeed, n)
	for i := range out {
		out[i] = NoticeSeed{UserID: fmt.Sprintf("u%03d", i), MessageID: fmt.Sprintf("m%03d@x", i), State: NoticePending}
	}
	return out
}

func TestSeedNoticesIdempotentAndCarriesSent(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	sd := seeds(5)
	sd[4] = NoticeSeed{UserID: "u004", MessageID: "m004@x", State: NoticeFailed, LastError: "no email address on file"}
	r, err := s.SeedNotices(ctx, c, run, sd)
	if err != nil || r.Added != 5 || r.SentEarlier != 0 {
		t.Fatalf("SeedNotices = %+v, %v; want 5 added", r, err)
	}
	r, err = s.SeedNotices(ctx, c, run, sd)
	if err != nil || r.Added != 0 {
		t.Fatalf("second SeedNotices = %+v, %v; want 0 added", r, err)
	}
	// u000 is sent in run 1.
	cl, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u000", State: NoticePending})
	if err != nil {
		t.Fatal(err)
	}
	if cl.Attempts != 1 || cl.MessageID != "m000@x" {
		t.Errorf("claim = %+v, want attempts 1, message m000@x", cl)
	}
	if err := s.FinishNotice(ctx, c, run, NoticeOutcome{UserID: "u000", State: NoticeSent, SMTPReply: "250 ok"}); err != nil {
		t.Fatal(err)
	}
	// A revised count: run 2 has u000 again (new message id offered) and a new person.
	run2, err := s.NewRun(ctx, c, "y", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r, err = s.SeedNotices(ctx, c, run2, []NoticeSeed{
		{UserID: "u000", MessageID: "other@x", State: NoticePending},
		{UserID: "u100", MessageID: "m100@x", State: NoticePending},
	})
	if err != nil || r.Added != 2 || r.SentEarlier != 1 {
		t.Fatalf("SeedNotices run 2 = %+v, %v; want 2 added, 1 sent earlier", r, err)
	}
	n, err := s.GetNotice(ctx, c, run2, "u000")
	if err != nil {
		t.Fatal(err)
	}
	if n.State != NoticeSent || n.MessageID != "m000@x" || !n.SentAt.Valid || n.SMTPReply.String != fmt.Sprintf("already sent in run %d; not sent again", run) {
		t.Errorf("carried notice = state %s, message %s, sent_at %v, reply %q", n.State, n.MessageID, n.SentAt, n.SMTPReply.String)
	}
	counts, err := s.CountNotices(ctx, c, run)
	if err != nil {
		t.Fatal(err)
	}
	want := NoticeCounts{Total: 5, Pending: 3, Sent: 1, Failed: 1}
	if counts != want {
		t.Errorf("CountNotices = %+v, want %+v", counts, want)
	}
	fails, err := s.NoticeFailures(ctx, c, run)
	if err != nil || len(fails) != 1 || fails[0] != (NoticeReason{Reason: "no email address on file", Count: 1}) {
		t.Errorf("NoticeFailures = %+v, %v", fails, err)
	}
}

func TestClaimFinishRecover(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	if _, err := s.SeedNotices(ctx, c, run, seeds(4)); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueNotices(ctx, c, run, "", 10, true, nil)
	if err != nil || len(due) != 4 {
		t.Fatalf("DueNotices = %v, %v; want 4", due, err)
	}
	if _, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u000", State: NoticePending}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u000", State: NoticePending}); !errors.Is(err, ErrNotClaimable) {
		t.Fatalf("second claim: err = %v, want ErrNotClaimable", err)
	}
	// Temporary failure of u000 combined with the claim of u001.
	cl, err := s.FinishAndClaimNotice(ctx, c, run,
		&NoticeOutcome{UserID: "u000", State: NoticePending, LastError: "451 try later", NextAttemptAt: time.Now().Add(time.Hour)},
		&NoticeClaim{UserID: "u001", State: NoticePending})
	if err != nil || cl.UserID != "u001" {
		t.Fatalf("FinishAndClaim = %+v, %v", cl, err)
	}
	if _, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u000", State: NoticePending}); !errors.Is(err, ErrNotClaimable) {
		t.Errorf("claim before retry time: err = %v, want ErrNotClaimable", err)
	}
	due, _ = s.DueNotices(ctx, c, run, "", 10, true, nil)
	if len(due) != 2 || due[0].UserID != "u002" {
		t.Errorf("DueNotices = %v, want u002, u003", due)
	}
	wait, ok, err := s.NextDue(ctx, c, run, true, nil, []string{"u002", "u003"})
	if err != nil || !ok || wait < 50*time.Minute {
		t.Errorf("NextDue = %v, %v, %v; want about 1h", wait, ok, err)
	}
	// u001 is in sending when the "process dies".
	n, err := s.RecoverSending(ctx, c, run)
	if err != nil || n != 1 {
		t.Fatalf("RecoverSending = %d, %v; want 1", n, err)
	}
	unc, err := s.UncertainNotices(ctx, c, run)
	if err != nil || len(unc) != 1 || unc[0] != "u001" {
		t.Fatalf("UncertainNotices = %v, %v", unc, err)
	}
	due, _ = s.DueNotices(ctx, c, run, "", 10, false, nil)
	if len(due) != 2 {
		t.Errorf("DueNotices without uncertain = %v, want 2", due)
	}
	cl, err = s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u001", State: NoticeUncertain})
	if err != nil || cl.UncertainCount != 1 || cl.Attempts != 2 {
		t.Fatalf("claim uncertain = %+v, %v", cl, err)
	}
	if err := s.FinishNotice(ctx, c, run, NoticeOutcome{UserID: "u001", State: NoticeSent, SMTPReply: "250 ok"}); err != nil {
		t.Fatal(err)
	}
	doubt, _ := s.NoticesSentInDoubt(ctx, c, run)
	if len(doubt) != 1 || doubt[0] != "u001" {
		t.Errorf("NoticesSentInDoubt = %v, want [u001]", doubt)
	}
	if err := s.FinishNotice(ctx, c, run, NoticeOutcome{UserID: "u001", State: NoticeSent}); err == nil {
		t.Error("finishing a notice not in sending: want an error")
	}
	k, err := s.FailNotices(ctx, c, run, map[string]string{"u002": "invalid address", "u001": "x"})
	if err != nil || k != 1 {
		t.Errorf("FailNotices = %d, %v; want 1 (u001 is sent)", k, err)
	}
	counts, _ := s.CountNotices(ctx, c, run)
	want := NoticeCounts{Total: 4, Pending: 2, Sent: 1, Failed: 1, Retrying: 1, SentInDoubt: 1}
	if counts != want {
		t.Errorf("CountNotices = %+v, want %+v", counts, want)
	}
}

func TestLockNoticeSender(t *testing.T) {
	ctx := context.Background()
	s, c, _ := noticeStore(t)
	release, err := s.LockNoticeSender(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LockNoticeSender(ctx, c); !errors.Is(err, ErrNoticeSenderBusy) {
		t.Fatalf("second lock: err = %v, want ErrNoticeSenderBusy", err)
	}
	other, err := s.LockNoticeSender(ctx, "another-case")
	if err != nil {
		t.Fatalf("lock of another case: %v", err)
	}
	other()
	release()
	again, err := s.LockNoticeSender(ctx, c)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}

// TestLockNoticeSenderLost: when the connection holding the sender lock
// dies, the watcher says so (another sender could now start).
func TestLockNoticeSenderLost(t *testing.T) {
	ctx := context.Background()
	s, c, _ := noticeStore(t)
	lost := make(chan error, 1)
	release, err := s.LockNoticeSenderWatch(ctx, c, func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := s.DB.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = $1 AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, uint32(senderLockSpace)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-lost:
		if err == nil || !strings.Contains(err.Error(), "sender lock") {
			t.Errorf("lost(%v): want an error naming the sender lock", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the lock's connection was terminated and nobody was told within 10 s")
	}
}
