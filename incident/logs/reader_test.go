package logs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// lineParser parses "SECONDS STATUS" test lines; anything else is rejected.
type lineParser struct{ prefix string }

func (p lineParser) Parse(line []byte, rec *Record) error {
	if !bytes.HasPrefix(line, []byte(p.prefix)) {
		return reject("missing prefix " + p.prefix)
	}
	line = line[len(p.prefix):]
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return reject("no space")
	}
	secs, ok := digits(line[:sp])
	st, ok2 := digits(line[sp+1:])
	if !ok || !ok2 {
		return reject("not numbers")
	}
	rec.Time, rec.Status, rec.Coarse = int64(secs)*1e9, st, true
	return nil
}

// headerLineParser: "#Fields: P" switches the expected prefix to P.
type headerLineParser struct{ lineParser }

func (h headerLineParser) Header(line []byte) (Parser, error) {
	if rest, ok := bytes.CutPrefix(line, []byte("#Fields: ")); ok {
		if len(rest) == 0 {
			return nil, errors.New("empty field list")
		}
		return headerLineParser{lineParser{prefix: string(rest)}}, nil
	}
	return h, nil
}

// collect is a Sink keeping (file, line, time) of every record.
type collect struct {
	mu   *sync.Mutex
	seen *[]string
}

func (c collect) Record(file int, line int64, rec *Record) {
	c.mu.Lock()
	*c.seen = append(*c.seen, fmt.Sprintf("%d:%d:%d", file, line, rec.Time/1e9))
	c.mu.Unlock()
}

func writeFile(t *testing.T, dir, name string, data []byte, gz bool) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadAccounting(t *testing.T) {
	dir := t.TempDir()
	long := "5 200 " + strings.Repeat("x", 3000)
	tests := []struct {
		name      string
		data      string
		gz        bool
		chunk     int
		maxLine   int
		header    bool
		want      FileStats
		wantLines []string // file:line:time of kept records
	}{
		{name: "plain with CRLF, blank line and a reject", data: "1 200\r\n2 404\r\n\r\nbad line\n3 200", chunk: 8, maxLine: 64,
			want:      FileStats{Lines: 5, Parsed: 3, Rejected: 2, Kept: 3, Coarse: 3, Rejects: []Reject{{3, "empty line"}, {4, "not numbers"}}},
			wantLines: []string{"0:1:1", "0:2:2", "0:5:3"}},
		{name: "gzip by magic, window filter", data: "1 200\n100 200\n2 200\n", gz: true, chunk: 4, maxLine: 64,
			want:      FileStats{Lines: 3, Parsed: 3, OutsideWindow: 1, Kept: 2, Coarse: 2, Compressed: true},
			wantLines: []string{"0:1:1", "0:3:2"}},
		{name: "over-long lines are rejected and counted", data: "1 200\n" + long + "\n2 200\n" + long, chunk: 16, maxLine: 100,
			want:      FileStats{Lines: 4, Parsed: 2, Rejected: 2, Kept: 2, Coarse: 2, Rejects: []Reject{{2, "longer than 100 bytes"}, {4, "longer than 100 bytes"}}},
			wantLines: []string{"0:1:1", "0:3:2"}},
		{name: "header lines are not data lines and switch the layout", header: true, chunk: 10, maxLine: 64,
			data:      "#Version: 1.0\n#Fields: a:\na:1 200\na:2 200\n#Fields: b:\nb:3 200\na:4 200\n",
			want:      FileStats{Lines: 4, Parsed: 3, Rejected: 1, Kept: 3, Coarse: 3, Rejects: []Reject{{7, "missing prefix b:"}}},
			wantLines: []string{"0:3:1", "0:4:2", "0:6:3"}},
		{name: "a #Version after #Fields keeps the field order", header: true, chunk: 64, maxLine: 64,
			data: "#Fields: a:\n#Version: 1.0\na:1 200\n",
			want: FileStats{Lines: 1, Parsed: 1, Kept: 1, Coarse: 1}, wantLines: []string{"0:3:1"}},
		{name: "a bad header rejects the lines after it", header: true, chunk: 64, maxLine: 64,
			data: "#Fields: \n1 200\n",
			want: FileStats{Lines: 1, Rejected: 1, Rejects: []Reject{{2, "no usable #Fields header (line 1: empty field list)"}}}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, dir, fmt.Sprintf("f%d", i), []byte(tc.data), tc.gz)
			var p Parser = lineParser{}
			if tc.header {
				p = headerLineParser{}
			}
			var mu sync.Mutex
			var seen []string
			var progress atomic.Int64
			stats, err := Read(context.Background(), []Input{{Path: path, Name: "f", Parser: p}}, Options{
				From: 0, To: 50e9, ChunkSize: tc.chunk, MaxLine: tc.maxLine, Progress: &progress,
				NewSink: func(int) Sink { return collect{&mu, &seen} },
			})
			if err != nil {
				t.Fatal(err)
			}
			got := stats[0]
			got.Bytes, got.UnknownCache = 0, nil
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("stats\n got %+v\nwant %+v", got, tc.want)
			}
			if got.Parsed+got.Rejected != got.Lines {
				t.Errorf("parsed %d + rejected %d != lines %d", got.Parsed, got.Rejected, got.Lines)
			}
			sort.Strings(seen)
			if fmt.Sprint(seen) != fmt.Sprint(tc.wantLines) {
				t.Errorf("kept %v, want %v", seen, tc.wantLines)
			}
			if fi, _ := os.Stat(path); progress.Load() != fi.Size() {
				t.Errorf("progress %d bytes, want the file size %d", progress.Load(), fi.Size())
			}
		})
	}
}

// TestReadTruncatedGzip cuts a gzip file in half: the lines before the cut
// are counted and the file is marked truncated.
func TestReadTruncatedGzip(t *testing.T) {
	for _, gunzip := range gunzips(t) {
		t.Run("gunzip="+gunzip, func(t *testing.T) { testReadTruncatedGzip(t, gunzip) })
	}
}

// gunzips lists the decompressors to test: the built-in one, and igzip
// when it is installed (make test installs it).
func gunzips(t *testing.T) []string {
	out := []string{""}
	if p, err := exec.LookPath("igzip"); err == nil {
		out = append(out, p)
	} else {
		t.Logf("igzip not installed: testing the built-in gzip reader only")
	}
	return out
}

func testReadTruncatedGzip(t *testing.T, gunzip string) {
	dir := t.TempDir()
	var data bytes.Buffer
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&data, "%d 200\n", i%40)
	}
	full := writeFile(t, dir, "full.gz", data.Bytes(), true)
	raw, _ := os.ReadFile(full)
	cut := writeFile(t, dir, "cut.gz", raw[:len(raw)/2], false)
	stats, err := Read(context.Background(), []Input{{Path: cut, Name: "cut.gz", Parser: lineParser{}}}, Options{ChunkSize: 4096, Gunzip: gunzip})
	if err != nil {
		t.Fatal(err)
	}
	s := stats[0]
	if !s.Truncated || !s.Compressed || !strings.Contains(s.ReadError, "truncated") {
		t.Fatalf("truncated=%v compressed=%v err=%q, want a truncated gzip", s.Truncated, s.Compressed, s.ReadError)
	}
	if s.Lines == 0 || s.Lines >= 20000 || s.Parsed+s.Rejected != s.Lines {
		t.Errorf("partial counts lines=%d parsed=%d rejected=%d", s.Lines, s.Parsed, s.Rejected)
	}
}

func TestReadManyFilesInParallel(t *testing.T) {
	for _, gunzip := range gunzips(t) {
		t.Run("gunzip="+gunzip, func(t *testing.T) { testReadManyFilesInParallel(t, gunzip) })
	}
}

func testReadManyFilesInParallel(t *testing.T, gunzip string) {
	dir := t.TempDir()
	var inputs []Input
	for f := 0; f < 7; f++ {
		var data bytes.Buffer
		for i := 0; i < 5000+f; i++ {
			fmt.Fprintf(&data, "%d 200\n", i)
		}
		inputs = append(inputs, Input{Path: writeFile(t, dir, fmt.Sprintf("f%d", f), data.Bytes(), f%2 == 0), Parser: lineParser{}})
	}
	var before atomic.Int64
	// A concatenated (multi-member) gzip file counts as one stream.
	var two bytes.Buffer
	for _, part := range []string{"1 200\n2 200\n", "3 200\n"} {
		zw := gzip.NewWriter(&two)
		zw.Write([]byte(part))
		zw.Close()
	}
	inputs = append(inputs, Input{Path: writeFile(t, dir, "multi.gz", two.Bytes(), false), Parser: lineParser{}})
	stats, err := Read(context.Background(), inputs, Options{Workers: 3, ChunkSize: 1000, Gunzip: gunzip, BeforeFile: func(int) error { before.Add(1); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if m := stats[len(stats)-1]; m.Lines != 3 || m.Parsed != 3 || m.Truncated {
		t.Errorf("multi-member gzip: %+v, want 3 lines parsed", m)
	}
	stats = stats[:len(stats)-1]
	for f, s := range stats {
		if s.Lines != int64(5000+f) || s.Parsed != s.Lines {
			t.Errorf("file %d: lines %d parsed %d, want %d", f, s.Lines, s.Parsed, 5000+f)
		}
	}
	if before.Load() != 8 {
		t.Errorf("BeforeFile ran %d times, want 8", before.Load())
	}
	// A failing BeforeFile stops the read with its error.
	boom := errors.New("boom")
	if _, err := Read(context.Background(), inputs, Options{BeforeFile: func(int) error { return boom }}); !errors.Is(err, boom) {
		t.Errorf("Read error = %v, want boom", err)
	}
}

func TestHashAndSpool(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "a", []byte("abc"), false)
	sum, n, err := HashFile(p)
	if err != nil || n != 3 || sum != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashFile = %s %d %v", sum, n, err)
	}
	sp, sum2, n2, err := Spool(strings.NewReader("abc"), dir)
	if err != nil || sum2 != sum || n2 != 3 {
		t.Errorf("Spool = %s %d %v", sum2, n2, err)
	}
	if fi, err := os.Stat(sp); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("spooled file mode %v %v, want 0600", fi.Mode(), err)
	}
}
