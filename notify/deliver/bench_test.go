package deliver

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/breachctl/breachctl/internal/mailpit"
)

// BenchmarkSendMailpit sends b.N notices to a private Mailpit on loopback
// with 4 workers, from a fresh ledger, and reports messages per second.
// Run it with e.g. -benchtime=5000x for a steady figure.
func BenchmarkSendMailpit(b *testing.B) {
	mp := mailpit.Start(b)
	l := newLedger(b, b.N)
	opts := baseOpts(l, mp.SMTPURL())
	opts.Workers = 4
	if w, err := strconv.Atoi(os.Getenv("BENCH_WORKERS")); err == nil {
		opts.Workers = w
	}
	b.ResetTimer()
	start := time.Now()
	res, err := Send(context.Background(), opts)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Sent != b.N {
		b.Fatalf("sent %d of %d", res.Sent, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
