package store

import (
	"database/sql"
	"testing"
	"time"

	"github.com/lib/pq"
)

// TestSaveExposureHostileText (issue 21 item 2): a value holding bytes
// PostgreSQL text refuses (invalid UTF-8, NUL) used to fail the whole run's
// COPY ("invalid byte sequence for encoding UTF8"); the store now writes it
// as logs.Text, and clean text exactly as given.
func TestSaveExposureHostileText(t *testing.T) {
	ctx, s, run := newCaseRun(t)
	tests := []struct {
		name           string
		pop, key, path string
		viewer, victim string
		want           [5]string
	}{
		{"clean", "NRT", "NRT www.example.jp /mypage/bank%93", "/mypage/bank%93", "user:2", "1",
			[5]string{"NRT", "NRT www.example.jp /mypage/bank%93", "/mypage/bank%93", "user:2", "1"}},
		{"invalid UTF-8 and NUL", "N\x00RT", "NRT /mypage/bank\x93?q=\x93\x8c", "/mypage/bank\x93\x00x", "ip:\xff", "1\x00",
			[5]string{"N%00RT", "NRT /mypage/bank%93?q=%93%8C", "/mypage/bank%93%00x", "ip:%FF", "1%00"}},
	}
	at := time.Date(2017, 6, 22, 1, 0, 0, 0, time.UTC)
	err := s.SaveExposure(ctx, "c", run, len(tests), func(i int, row *ExposureEvent) {
		tc := tests[i]
		*row = ExposureEvent{EventNo: int64(i + 1), Kind: "exposure", At: at.Add(time.Duration(i) * time.Second),
			Pop: tc.pop, CacheKey: tc.key, Path: tc.path, Status: 200, Viewer: tc.viewer,
			Victim: sql.NullString{String: tc.victim, Valid: true}, Level: sql.NullString{String: "confirmed", Valid: true},
			Categories: pq.StringArray{"bank_account"}}
	}, []AffectedAccount{{UserID: "1", Level: "confirmed", Categories: pq.StringArray{"bank_account"}, CategoryLevels: []byte(`{}`),
		Views: 2, Viewers: 2, Locale: "ja\xff", Country: "JP", Region: "JP-13\x00"}})
	if err != nil {
		t.Fatalf("SaveExposure with hostile bytes = %v, want no error", err)
	}
	i := 0
	err = s.EachEvent(ctx, "c", run, func(e *ExposureEvent) error {
		got := [5]string{e.Pop, e.CacheKey, e.Path, e.Viewer, e.Victim.String}
		if want := tests[i].want; got != want {
			t.Errorf("%s: stored %q, want %q", tests[i].name, got, want)
		}
		i++
		return nil
	})
	if err != nil || i != len(tests) {
		t.Fatalf("EachEvent: %d events, %v; want %d, no error", i, err, len(tests))
	}
	a, err := s.ListAffected(ctx, "c", run)
	if err != nil || len(a) != 1 {
		t.Fatalf("ListAffected = %d rows, %v; want 1", len(a), err)
	}
	if a[0].Locale != "ja%FF" || a[0].Region != "JP-13%00" {
		t.Errorf("stored locale %q region %q, want \"ja%%FF\" \"JP-13%%00\"", a[0].Locale, a[0].Region)
	}
}
