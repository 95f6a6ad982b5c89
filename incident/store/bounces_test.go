package store

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func TestRecordBouncesIdempotentAndSummarised(t *testing.T) {
	ctx := context.Background()
	s, c, run := noticeStore(t)
	if _, err := s.SeedNotices(ctx, c, run, seeds(4)); err != nil {
		t.Fatal(err)
	}
	got, err := s.NoticesByMessageID(ctx, c, []string{"m000@x", "m002@x", "nobody@x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["m000@x"].UserID != "u000" || got["m002@x"].Run != run || got["m002@x"].Kind != NoticeFirst {
		t.Fatalf("NoticesByMessageID = %+v, want u000 and u002 of run %d, not nobody@x", got, run)
	}
	bounce := func(id, status string, perm bool, pos int) Bounce {
		return Bounce{BounceTarget: got[id], Status: status, Action: "failed", Diagnostic: "smtp; 550 user unknown",
			Permanent: perm, Source: "b.mbox", Position: pos, Recipient: 1, SourceSHA256: "h1"}
	}
	bs := []Bounce{bounce("m000@x", "5.1.1", true, 1), bounce("m002@x", "4.4.1", false, 2), bounce("m002@x", "4.4.1", false, 3)}
	for i, want := range []int{3, 0} {
		n, err := s.RecordBounces(ctx, c, bs)
		if err != nil || n != want {
			t.Fatalf("RecordBounces #%d = %d, %v; want %d", i+1, n, err, want)
		}
	}
	counts, users, err := s.NoticeBounces(ctx, c, run)
	if err != nil {
		t.Fatal(err)
	}
	if counts != (BounceCounts{Permanent: 1, Temporary: 1}) || !reflect.DeepEqual(users, []string{"u000"}) {
		t.Errorf("NoticeBounces = %+v, %v; want 1 permanent (u000), 1 temporary", counts, users)
	}
	// Another run whose ledger carries the same Message-ID sees the bounce.
	run2, err := s.NewRun(ctx, c, "y", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SeedNotices(ctx, c, run2, seeds(1)); err != nil {
		t.Fatal(err)
	}
	counts, users, err = s.NoticeBounces(ctx, c, run2)
	if err != nil || counts != (BounceCounts{Permanent: 1}) || !reflect.DeepEqual(users, []string{"u000"}) {
		t.Errorf("NoticeBounces run 2 = %+v, %v, %v; want u000 permanent only", counts, users, err)
	}
}
