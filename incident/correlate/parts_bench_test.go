package correlate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/logs"
)

// BenchmarkRulesRecord is the read-time cost per log record of a case with
// an object, an owner and an actor rule (fuzzRules), on traffic where one
// request in four is on one of their routes: what ingest pays per line on
// top of parsing. BenchmarkRulesRun is the correlation after the read, per
// record.
func BenchmarkRulesRecord(b *testing.B) {
	c := rulesCase(b, fuzzRules)
	recs := benchRuleRecords(1 << 16)
	col, err := correlate.NewCollector(c)
	if err != nil {
		b.Fatal(err)
	}
	s := col.Sink(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &recs[i&(len(recs)-1)]
		s.Record(0, int64(i), r)
	}
}

func BenchmarkRulesRun(b *testing.B) {
	c := rulesCase(b, fuzzRules)
	recs := benchRuleRecords(1 << 18)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		col, err := correlate.NewCollector(c)
		if err != nil {
			b.Fatal(err)
		}
		s := col.Sink(0)
		for j := range recs {
			s.Record(0, int64(j), &recs[j])
		}
		res := &ownerResolver{fakeResolver: newResolver(b, fzNotOnFile), owners: testOwners}
		if _, err := col.Run(context.Background(), c, res); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// benchRuleRecords makes n records inside the window: three public in
// four, the rest spread over the rules' routes, from several addresses
// and sessions.
func benchRuleRecords(n int) []logs.Record {
	out := make([]logs.Record, n)
	t := at("10:00:00")
	for i := range out {
		r := logs.Record{Time: t + int64(i)*1e6, Pop: []byte("NRT"), Host: []byte(host), Method: []byte("GET"), Status: 200,
			Cache: logs.CacheOrigin, ClientIP: []byte(fmt.Sprintf("198.51.100.%d", i%200)), Identity: []byte(fzIdents[i%len(fzIdents)])}
		switch i % 16 {
		case 0:
			r.Path = []byte(fmt.Sprintf("/api/users/%d/profile", i%5000))
		case 1:
			r.Path, r.Query = []byte("/api/orders"), []byte(fmt.Sprintf("order_id=o%d", i%3))
		case 2:
			r.Path, r.Subject = []byte("/mypage/profile"), []byte(fmt.Sprint(1+i%4))
		case 3:
			r.Path, r.ClientIP = []byte("/account/card"), []byte("203.0.113.5")
		default:
			r.Path = []byte(fmt.Sprintf("/items/%d", i%997))
		}
		out[i] = r
	}
	return out
}
