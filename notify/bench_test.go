package notify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/correlate"
)

// benchNotices returns n notices of the kinds a real case has: both
// locales, JP, US-CA and EU recipients, confirmed and possible people.
func benchNotices(b *testing.B, n int) ([]Notice, *Renderer) {
	c := loadCase(b)
	r := newRenderer(b, c)
	places := [][3]string{{"ja", "JP", "JP-13"}, {"en", "US", "US-CA"}, {"en", "DE", "DE-BE"}, {"ja", "JP", "JP-27"}}
	var out []Notice
	for i := 0; i < n; i++ {
		p := places[i%len(places)]
		levels := map[string]string{"name": "confirmed", "email": "confirmed", "postal_address": "possible", "bank_account": "possible"}
		if i%3 == 0 {
			levels = map[string]string{"payment_card": "possible", "purchase_history": "possible"}
		}
		out = append(out, notice(c, fmt.Sprint(100000+i), levels, i%5, i%3,
			correlate.Contact{Email: fmt.Sprintf("user%d@example.com", i), Name: "山田 太郎", Locale: p[0], Country: p[1], Region: p[2]}))
	}
	return out, r
}

// BenchmarkRender renders one notice per op: serial is one goroutine
// calling Render; RenderAll renders on every core and emits in order, as
// `notify render` does. notices/s is the throughput.
func BenchmarkRender(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		notices, r := benchNotices(b, 64)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if _, err := r.Render(notices[i%len(notices)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "notices/s")
	})
	b.Run("RenderAll", func(b *testing.B) {
		notices, r := benchNotices(b, 4096)
		all := make([]Notice, b.N)
		for i := range all {
			all[i] = notices[i%len(notices)]
		}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		err := RenderAll(context.Background(), r, all, 0, func(m *Message, err error) error { return err })
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "notices/s")
	})
}
