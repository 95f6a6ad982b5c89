package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestNoticeUncertainBackoffAndFailedInDoubt: an uncertain outcome carries
// a retry time that DueNotices, NextDue and the claim respect (before
// issue 21 an uncertain notice was due at once, always); a failure in doubt
// is counted and listed apart; RetryFailed puts it back as uncertain.
func TestNoticeUncertainBackoffAndFailedInDoubt(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	if _, err := s.SeedNotices(ctx, c, run, seeds(3)); err != nil {
		t.Fatal(err)
	}
	claim := func(u, state string) {
		t.Helper()
		if _, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: u, State: state}); err != nil {
			t.Fatalf("claim %s from %s: %v", u, state, err)
		}
	}
	finish := func(o NoticeOutcome) {
		t.Helper()
		if err := s.FinishNotice(ctx, c, run, o); err != nil {
			t.Fatalf("finish %s: %v", o.UserID, err)
		}
	}
	// u000: uncertain, to retry in an hour.
	claim("u000", NoticePending)
	finish(NoticeOutcome{UserID: "u000", State: NoticeUncertain, LastError: "lost", NextAttemptAt: time.Now().Add(time.Hour)})
	// u001: failed in doubt (out of attempts, the last one uncertain).
	claim("u001", NoticePending)
	finish(NoticeOutcome{UserID: "u001", State: NoticeFailed, InDoubt: true, LastError: "gave up: may or may not have been delivered"})
	// u002: failed plainly.
	claim("u002", NoticePending)
	finish(NoticeOutcome{UserID: "u002", State: NoticeFailed, LastError: "550 no such user"})

	if due, err := s.DueNotices(ctx, c, run, "", 10, true, nil); err != nil || len(due) != 0 {
		t.Errorf("DueNotices = %v, %v; want none (u000 waits its backoff)", due, err)
	}
	if wait, ok, err := s.NextDue(ctx, c, run, true, nil, nil); err != nil || !ok || wait < 50*time.Minute {
		t.Errorf("NextDue = %v, %v, %v; want about 1h", wait, ok, err)
	}
	if _, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u000", State: NoticeUncertain}); !errors.Is(err, ErrNotClaimable) {
		t.Errorf("claim of u000 before its retry time: err = %v, want ErrNotClaimable", err)
	}
	for _, tc := range []struct {
		user      string
		state     string
		uncertain int
	}{{"u000", NoticeUncertain, 1}, {"u001", NoticeFailed, 1}, {"u002", NoticeFailed, 0}} {
		n, err := s.GetNotice(ctx, c, run, tc.user)
		if err != nil {
			t.Fatal(err)
		}
		if n.State != tc.state || n.UncertainCount != tc.uncertain || n.Attempts != 1 {
			t.Errorf("%s: state %s, uncertain %d, attempts %d; want %s, %d, 1", tc.user, n.State, n.UncertainCount, n.Attempts, tc.state, tc.uncertain)
		}
	}
	counts, _ := s.CountNotices(ctx, c, run)
	if want := (NoticeCounts{Total: 3, Failed: 2, Uncertain: 1, FailedUncertain: 1}); counts != want {
		t.Errorf("CountNotices = %+v, want %+v", counts, want)
	}
	if ids, err := s.NoticesFailedUncertain(ctx, c, run); err != nil || strings.Join(ids, ",") != "u001" {
		t.Errorf("NoticesFailedUncertain = %v, %v; want [u001]", ids, err)
	}
	if n, err := s.RetryFailed(ctx, c, run); err != nil || n != 2 {
		t.Fatalf("RetryFailed = %d, %v; want 2", n, err)
	}
	for _, tc := range []struct{ user, state string }{{"u001", NoticeUncertain}, {"u002", NoticePending}} {
		if n, _ := s.GetNotice(ctx, c, run, tc.user); n.State != tc.state || n.Attempts != 0 {
			t.Errorf("%s after RetryFailed: state %s, attempts %d; want %s, 0", tc.user, n.State, n.Attempts, tc.state)
		}
	}
}

// TestReconcileRunsFailedInDoubt: a person whose notice in another run
// failed with its delivery unknown may have it: their notice in this run
// is uncertain too (the --uncertain policy decides), not plainly pending.
func TestReconcileRunsFailedInDoubt(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	if _, err := s.SeedNotices(ctx, c, run, seeds(2)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u000", State: NoticePending}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishNotice(ctx, c, run, NoticeOutcome{UserID: "u000", State: NoticeFailed, InDoubt: true, LastError: "gave up"}); err != nil {
		t.Fatal(err)
	}
	run2, err := s.NewRun(ctx, c, "y", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeedNotices(ctx, c, run2, seeds(2)); err != nil {
		t.Fatal(err)
	}
	sent, doubt, err := s.ReconcileRuns(ctx, c, run2)
	if err != nil || sent != 0 || doubt != 1 {
		t.Fatalf("ReconcileRuns = %d, %d, %v; want 0 sent elsewhere, 1 in doubt", sent, doubt, err)
	}
	for _, tc := range []struct{ user, state string }{{"u000", NoticeUncertain}, {"u001", NoticePending}} {
		if n, _ := s.GetNotice(ctx, c, run2, tc.user); n.State != tc.state {
			t.Errorf("run %d, %s: state %s, want %s", run2, tc.user, n.State, tc.state)
		}
	}
}
