package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/internal/pgtest"
)

func benchEvents(n int) []ExposureEvent {
	evs := make([]ExposureEvent, n)
	t0 := time.Date(2017, 6, 22, 0, 41, 0, 0, time.UTC)
	for i := range evs {
		evs[i] = ExposureEvent{EventNo: int64(i + 1), Kind: "exposure", At: t0.Add(time.Duration(i) * time.Millisecond),
			Pop: "NRT51", CacheKey: "NRT51 www.example-market.jp /mypage/profile", Path: "/mypage/profile", Status: 200,
			Victim: sql.NullString{String: fmt.Sprint(100000 + i%5000), Valid: true}, Level: sql.NullString{String: "confirmed", Valid: true},
			Viewer: fmt.Sprintf("user:%d", 200000+i), Categories: pq.StringArray{"email", "name", "phone"},
			EvidenceFile: sql.NullInt64{Int64: 3, Valid: true}, EvidenceLine: sql.NullInt64{Int64: int64(i), Valid: true}}
	}
	return evs
}

func BenchmarkSaveExposure(b *testing.B) {
	ctx := context.Background()
	url, _ := pgtest.NewDB(b)
	s, err := Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.UpsertCase(ctx, Case{ID: "c", Title: "t", CaseFile: "f", CaseFileSHA256: "x"}); err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(50000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run, err := s.NewRun(ctx, "c", "x", time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.SaveExposure(ctx, "c", run, len(evs), func(i int, row *ExposureEvent) { *row = evs[i] }, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(evs)*b.N)/b.Elapsed().Seconds(), "rows/s")
}
