package logs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var benchNginxLine = []byte(`198.51.100.7 - - [22/Jun/2017:09:41:00 +0900] "GET /items/123456?ref=top HTTP/1.1" 200 5123 "https://www.example-market.jp/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36" "_ga=GA1.2.1234567.1498000000; sid=0123456789abcdef0123456789abcdef; lang=ja" HIT www.example-market.jp NRT51 1498092060.123`)

func BenchmarkNginxParse(b *testing.B) {
	p, err := NewNginx(simFormat, Identity{Kind: "cookie", Name: "sid"}, "")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchNginxLine)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		rec = Record{}
		if err := p.Parse(benchNginxLine, &rec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadNginxPlain reads a plain 1M-line nginx file with all cores,
// including the SHA-256 of the file as ingest does; reports lines/s.
func BenchmarkReadNginxPlain(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "access.log")
	var buf bytes.Buffer
	const n = 1_000_000
	for i := 0; i < n; i++ {
		line := bytes.Replace(benchNginxLine, []byte("123456"), []byte(strconv.Itoa(i)), 1)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	p, err := NewNginx(simFormat, Identity{Kind: "cookie", Name: "sid"}, "")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := HashFile(path); err != nil {
			b.Fatal(err)
		}
		stats, err := Read(context.Background(), []Input{{Path: path, Name: "a", Parser: p}}, Options{})
		if err != nil || stats[0].Parsed != n {
			b.Fatalf("err %v parsed %d", err, stats[0].Parsed)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "lines/s")
}
