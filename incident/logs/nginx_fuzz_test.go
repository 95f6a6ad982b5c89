package logs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzNginx: no input panics, and every line is either a record or a ParseError.
func FuzzNginx(f *testing.F) {
	for _, s := range []string{
		`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /a.png HTTP/1.1" 200 203023 "http://x/" "Mozilla/5.0"`,
		`198.51.100.7 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/bank HTTP/1.1" 200 1234 "-" "UA \"q\"" "_ga=1; sid=0123abcd" HIT www.example.jp NRT51 1498092060.123`,
		`1.2.3.4 - - [22/Jun/2017:09:41:00 +0900] "\x16\x03" 400 0 "-" "-"`,
		`::1 - - [29/Feb/2016:23:59:60 -0130] "GET /?a=%ZZ HTTP/1.0" 999 - "-" "-"`,
		``, `"`, `- - [`,
		// Client addresses that reject the line, or lose their port.
		`evil.example - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`- - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`unix: - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`[2001:db8::1]:443 - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`203.0.113.9:51234 - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
	} {
		f.Add(s)
	}
	parsers := []Parser{}
	for _, lf := range []string{"", simFormat, `$time_iso8601 $request_uri $status "$cookie_sid" $host`} {
		for _, id := range []Identity{{Kind: "remote_user"}, {Kind: "cookie", Name: "sid"}} {
			if p, err := NewNginx(lf, id, ""); err == nil {
				parsers = append(parsers, p)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range parsers {
			var rec Record
			err := p.Parse([]byte(line), &rec)
			var pe *ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Fatalf("Parse returned %T %v, want a *ParseError", err, err)
			}
			checkParseResult(t, []byte(line), &rec, err)
		}
	})
}

// FuzzReadAccounting: whatever the bytes of a file, parsed + rejected == lines
// and the line count matches the file's newlines.
func FuzzReadAccounting(f *testing.F) {
	f.Add([]byte("1.2.3.4 - - [22/Jun/2017:09:41:00 +0900] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"\n\n\r\nbad\n"), 16)
	f.Add([]byte{0x1f, 0x8b, 0, 1, 2}, 4)
	f.Add([]byte("#Fields: a\n#x\nline"), 3)
	p, err := NewNginx("", Identity{Kind: "remote_user"}, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk int) {
		if chunk < 1 || chunk > 1<<16 {
			chunk = 64
		}
		path := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		stats, err := Read(context.Background(), []Input{{Path: path, Parser: p}}, Options{ChunkSize: chunk, MaxLine: 256})
		if err != nil {
			t.Fatal(err)
		}
		s := stats[0]
		if s.Parsed+s.Rejected != s.Lines {
			t.Fatalf("parsed %d + rejected %d != lines %d", s.Parsed, s.Rejected, s.Lines)
		}
		if !s.Compressed {
			want := int64(0)
			for i, c := range data {
				if c == '\n' || i == len(data)-1 {
					want++
				}
			}
			if s.Lines != want {
				t.Fatalf("lines = %d, want %d", s.Lines, want)
			}
		}
	})
}
