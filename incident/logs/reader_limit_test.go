package logs

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestReadMaxLines: MaxLines reads only the first lines of each file
// (validate's sample, logs parse --limit), plain or gzip, small chunks or not.
func TestReadMaxLines(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 1; i <= 50; i++ {
		if i%7 == 0 {
			b.WriteString("junk\n")
		} else {
			fmt.Fprintf(&b, "%d 200\n", i)
		}
	}
	for _, gz := range []bool{false, true} {
		for _, chunk := range []int{0, 16} {
			for _, max := range []int64{1, 10, 14, 50, 1000} {
				p := writeFile(t, dir, fmt.Sprintf("f%v%d%d.log", gz, chunk, max), []byte(b.String()), gz)
				var mu sync.Mutex
				var rejects []int64
				stats, err := Read(context.Background(), []Input{{Path: p, Parser: lineParser{}}}, Options{
					Workers: 1, ChunkSize: chunk, MaxLine: 64, MaxLines: max,
					OnReject: func(file int, r Reject) { mu.Lock(); rejects = append(rejects, r.Line); mu.Unlock() },
				})
				if err != nil {
					t.Fatal(err)
				}
				want := min(max, 50)
				s := stats[0]
				if s.Lines != want || s.Parsed+s.Rejected != s.Lines || s.Rejected != want/7 || int64(len(rejects)) != want/7 {
					t.Errorf("gz %v chunk %d MaxLines %d: lines %d parsed %d rejected %d (OnReject %v), want %d lines, %d rejected",
						gz, chunk, max, s.Lines, s.Parsed, s.Rejected, rejects, want, want/7)
				}
				if s.Truncated {
					t.Errorf("gz %v MaxLines %d: a sample is not a truncated file: %s", gz, max, s.ReadError)
				}
			}
		}
	}
}

// TestReadKeepRejects: KeepRejects keeps that many rejects per file (a dry
// run's --rejects), the default MaxRejectsKept.
func TestReadKeepRejects(t *testing.T) {
	p := writeFile(t, t.TempDir(), "bad.log", []byte(strings.Repeat("junk\n", 100)), false)
	for _, tc := range []struct{ keep, want int }{{0, MaxRejectsKept}, {3, 3}, {60, 60}, {500, 100}} {
		stats, err := Read(context.Background(), []Input{{Path: p, Parser: lineParser{}}}, Options{Workers: 2, ChunkSize: 32, MaxLine: 16, KeepRejects: tc.keep})
		if err != nil {
			t.Fatal(err)
		}
		rj := stats[0].Rejects
		if len(rj) != tc.want || rj[0].Line != 1 || rj[len(rj)-1].Line != int64(tc.want) {
			t.Errorf("KeepRejects %d: kept %d (first %v), want lines 1..%d", tc.keep, len(rj), rj[:1], tc.want)
		}
	}
}
