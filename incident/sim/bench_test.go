package sim

import (
	"context"
	"strconv"
	"testing"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// BenchmarkGenerate measures the log generation and truth of 1M requests
// without the user database (the population is built outside the timer).
func BenchmarkGenerate(b *testing.B) {
	for _, format := range []string{FormatNginx, FormatCloudFront, FormatCloudflare, FormatJSONL} {
		b.Run(format, func(b *testing.B) {
			o, err := Options{Out: "unused", Format: format, Requests: 1_000_000, Seed: 1}.normalize()
			if err != nil {
				b.Fatal(err)
			}
			pop := newPopulation(o.Seed, o.Users)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				o.Out = b.TempDir() + "/" + strconv.Itoa(i)
				b.StartTimer()
				g, err := generate(context.Background(), o, pop)
				if err != nil {
					b.Fatal(err)
				}
				if err := writeTruth(o.Out+"/truth.json", g.truth); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRun measures a whole simulation of 1M requests and 10,000 users,
// the user database included.
func BenchmarkRun(b *testing.B) {
	_, db := pgtest.NewDB(b)
	for i := range b.N {
		b.StopTimer()
		out := b.TempDir() + "/" + strconv.Itoa(i)
		b.StartTimer()
		if _, err := Run(context.Background(), db, Options{Out: out, Format: FormatNginx, Requests: 1_000_000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
