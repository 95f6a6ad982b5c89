package store

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"testing"
	"time"
)

// TestLedgerChannelsAreSeparate: each channel has its own rows, states,
// counts and sender lock; the e-mail ledger is Store's.
func TestLedgerChannelsAreSeparate(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	web := s.Ledger(ChannelWebhook)
	if _, err := s.SeedNotices(ctx, c, run, seeds(3)); err != nil {
		t.Fatal(err)
	}
	if _, err := web.SeedNotices(ctx, c, run, seeds(2)); err != nil {
		t.Fatal(err)
	}
	cl, err := web.ClaimNotice(ctx, c, run, NoticeClaim{UserID: "u000", State: NoticePending})
	if err != nil || cl.MessageID != "m000@x" {
		t.Fatalf("claim webhook u000 = %+v, %v", cl, err)
	}
	if err := web.FinishNotice(ctx, c, run, NoticeOutcome{UserID: "u000", State: NoticeSent, SMTPReply: "HTTP 201 Created"}); err != nil {
		t.Fatal(err)
	}
	ec, _ := s.CountNotices(ctx, c, run)
	wc, _ := web.CountNotices(ctx, c, run)
	if ec.Total != 3 || ec.Sent != 0 || wc.Total != 2 || wc.Sent != 1 {
		t.Errorf("counts: email %+v, webhook %+v; want 3 pending e-mails, 1 of 2 webhooks sent", ec, wc)
	}
	// One sender per channel: e-mail and webhook at once, not two webhooks.
	relE, err := s.LockNoticeSender(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	defer relE()
	relW, err := web.LockNoticeSender(ctx, c)
	if err != nil {
		t.Fatalf("webhook lock while e-mail sends: %v", err)
	}
	defer relW()
	if _, err := s.Ledger(ChannelWebhook).LockNoticeSender(ctx, c); !errors.Is(err, ErrNoticeSenderBusy) {
		t.Errorf("a second webhook sender: %v, want ErrNoticeSenderBusy", err)
	}
	// A later run's webhook row of a message sent is recorded sent; its
	// e-mail row, never sent, is pending.
	run2, err := s.NewRun(ctx, c, "y", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r, err := web.SeedNotices(ctx, c, run2, seeds(1))
	if err != nil || r.SentEarlier != 1 {
		t.Errorf("webhook seed of run 2 = %+v, %v; want 1 already sent", r, err)
	}
	r, err = s.SeedNotices(ctx, c, run2, seeds(1))
	if err != nil || r.SentEarlier != 0 {
		t.Errorf("e-mail seed of run 2 = %+v, %v; want none already sent", r, err)
	}
	byCh, err := s.CountByChannel(ctx, c, run2)
	if err != nil {
		t.Fatal(err)
	}
	want := []ChannelCount{{ChannelEmail, NoticePending, 1}, {ChannelWebhook, NoticeSent, 1}}
	if !reflect.DeepEqual(byCh, want) {
		t.Errorf("CountByChannel(run 2) = %+v, want %+v", byCh, want)
	}
}

// TestMarkUnreached: a bounce marks every row of the notice bounced, in
// every run; a letter comes back by user id; unknown ids are listed.
func TestMarkUnreached(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	if _, err := s.SeedNotices(ctx, c, run, seeds(3)); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"u000", "u001"} {
		if _, err := s.ClaimNotice(ctx, c, run, NoticeClaim{UserID: u, State: NoticePending}); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishNotice(ctx, c, run, NoticeOutcome{UserID: u, State: NoticeSent, SMTPReply: "250 ok"}); err != nil {
			t.Fatal(err)
		}
	}
	run2, _ := s.NewRun(ctx, c, "y", time.Hour)
	if _, err := s.SeedNotices(ctx, c, run2, seeds(1)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // a second read changes nothing
		changed, unmatched, err := s.MarkUnreached(ctx, c, 0, ChannelEmail, []string{"m000@x", "m002@x", "zz@x"})
		sort.Strings(changed)
		if err != nil || !reflect.DeepEqual(changed, []string{"u000"}) || !reflect.DeepEqual(unmatched, []string{"m002@x", "zz@x"}) {
			t.Fatalf("MarkUnreached #%d = %v, %v, %v; want u000 bounced, m002@x (pending) and zz@x unmatched", i+1, changed, unmatched, err)
		}
	}
	for _, r := range []int{run, run2} {
		n, _ := s.GetNotice(ctx, c, r, "u000")
		if n.State != NoticeBounced {
			t.Errorf("run %d: u000 is %s, want bounced", r, n.State)
		}
	}
	if n, _ := s.GetNotice(ctx, c, run, "u001"); n.State != NoticeSent {
		t.Errorf("u001 is %s, want sent", n.State)
	}
	// Letters: by user id, within the run.
	if _, _, err := s.MarkUnreached(ctx, c, run, ChannelWebhook, []string{"u000"}); err == nil {
		t.Error("webhook messages cannot come back")
	}
	// A run 3 reads the bounce: its row is bounced, not pending.
	run3, _ := s.NewRun(ctx, c, "z", time.Hour)
	if _, err := s.SeedNotices(ctx, c, run3, seeds(1)); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.GetNotice(ctx, c, run3, "u000"); n.State != NoticeBounced {
		t.Errorf("run 3: u000 is %s, want bounced (never sent again to a bouncing address)", n.State)
	}
}

// TestLetterBatches: claimed letters are handed over or failed in one
// step; a batch left writing is abandoned and its letters are due again;
// returned letters are recorded by user id.
func TestLetterBatches(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	led := s.Ledger(ChannelLetter)
	if _, err := led.SeedNotices(ctx, c, run, seeds(5)); err != nil {
		t.Fatal(err)
	}
	b, ls, err := s.ClaimLetterBatch(ctx, c, run, "/out", "letters-%04d", 3)
	if err != nil || b.Batch != 1 || b.Name != "letters-0001" || len(ls) != 3 {
		t.Fatalf("claim = %+v, %v, %v", b, ls, err)
	}
	// The process dies: the next run abandons the batch.
	ab, err := s.AbandonLetterBatches(ctx, c)
	if err != nil || len(ab) != 1 || ab[0].Batch != 1 {
		t.Fatalf("abandon = %+v, %v", ab, err)
	}
	if cnt, _ := led.CountNotices(ctx, c, run); cnt.Pending != 5 || cnt.Sending != 0 {
		t.Errorf("after abandoning: %+v, want 5 pending", cnt)
	}
	b, ls, err = s.ClaimLetterBatch(ctx, c, run, "/out", "letters-%04d", 0)
	if err != nil || b.Batch != 2 || len(ls) != 5 {
		t.Fatalf("second claim = %+v, %d letters, %v", b, len(ls), err)
	}
	done := []LetterDone{{"u000", "s0"}, {"u001", "s1"}, {"u002", "s2"}, {"u003", "s3"}}
	if err := s.HandOverLetterBatch(ctx, b, done[:3], map[string]string{"u004": "no postal address on file"}); err == nil {
		t.Error("a batch with a claimed letter neither written nor failed was handed over")
	}
	if err := s.HandOverLetterBatch(ctx, b, done, map[string]string{"u004": "no postal address on file"}); err != nil {
		t.Fatal(err)
	}
	if cnt, _ := led.CountNotices(ctx, c, run); cnt.Sent != 4 || cnt.Failed != 1 {
		t.Errorf("after the hand-over: %+v, want 4 sent, 1 failed", cnt)
	}
	if b3, _, err := s.ClaimLetterBatch(ctx, c, run, "/out", "letters-%04d", 0); b3 != nil || err != nil {
		t.Errorf("nothing due: batch %+v, %v", b3, err)
	}
	bs, _ := s.LetterBatches(ctx, c)
	if len(bs) != 2 || bs[0].State != BatchAbandoned || bs[1].State != BatchHandedOver || bs[1].Letters != 4 {
		t.Errorf("batches = %+v", bs)
	}
	n, _ := led.GetNotice(ctx, c, run, "u002")
	if n.State != NoticeSent || n.MessageSHA256.String != "s2" || n.SMTPReply.String != "handed over in letter batch 2 (letters-0002)" {
		t.Errorf("u002's letter: %+v", n)
	}
	changed, unmatched, err := s.MarkUnreached(ctx, c, run, ChannelLetter, []string{"u002", "u004"})
	if err != nil || !reflect.DeepEqual(changed, []string{"u002"}) || !reflect.DeepEqual(unmatched, []string{"u004"}) {
		t.Errorf("returned = %v, %v, %v; want u002 returned, u004 (failed) unmatched", changed, unmatched, err)
	}
	if cnt, _ := led.CountNotices(ctx, c, run); cnt.Returned != 1 {
		t.Errorf("after the return: %+v", cnt)
	}
}
