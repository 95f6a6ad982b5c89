package logs

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// TestGzipTrailingData (issue 21 item 6): bytes after the gzip stream used
// to be dropped silently by igzip ("parsed 609, rejected 0", exit 0) while
// the built-in reader flagged the file. Both readers must now agree: the
// gzip part is read and counted, and the file is flagged with the reason.
func TestGzipTrailingData(t *testing.T) {
	member := func(from, n int) []byte {
		var data, buf bytes.Buffer
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&data, "%d 200\n", i%40)
		}
		zw := gzip.NewWriter(&buf)
		zw.Write(data.Bytes())
		zw.Close()
		return buf.Bytes()
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	plain := []byte("7 200\n8 200\n9 200\n")
	tests := []struct {
		name      string
		data      []byte
		lines     int64
		truncated string // part of ReadError; "" = not truncated
	}{
		{"one member", member(0, 609), 609, ""},
		{"two members", cat(member(0, 600), member(600, 9)), 609, ""},
		{"empty member last", cat(member(0, 609), member(0, 0)), 609, ""},
		{"plain lines after the stream", cat(member(0, 609), plain), 609, "after the end of the gzip stream"},
		{"plain lines after two members", cat(member(0, 600), member(600, 9), plain), 609, "after the end of the gzip stream"},
		{"zero padding after the stream", cat(member(0, 609), make([]byte, 512)), 609, "after the end of the gzip stream"},
		{"a cut second member header", cat(member(0, 609), []byte{0x1f, 0x8b, 0x08}), 609, "truncated"},
	}
	readers := []string{""}
	if p, err := exec.LookPath("igzip"); err == nil {
		readers = append(readers, p)
	} else {
		t.Logf("igzip is not installed (Debian package isal): the igzip half of this test is skipped")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []FileStats
			for _, gunzip := range readers {
				path := writeFile(t, t.TempDir(), "a.log.gz", tc.data, false)
				stats, err := Read(context.Background(), []Input{{Path: path, Name: "a.log.gz", Parser: lineParser{}}}, Options{ChunkSize: 1000, Gunzip: gunzip})
				if err != nil {
					t.Fatal(err)
				}
				s := stats[0]
				what := "built-in reader"
				if gunzip != "" {
					what = "igzip"
				}
				if s.Lines != tc.lines || s.Parsed != tc.lines || !s.Compressed {
					t.Errorf("%s: lines %d parsed %d compressed %v, want %d lines parsed from the gzip stream", what, s.Lines, s.Parsed, s.Compressed, tc.lines)
				}
				switch {
				case tc.truncated == "" && s.Truncated:
					t.Errorf("%s: flagged truncated (%s), want a clean read", what, s.ReadError)
				case tc.truncated != "" && (!s.Truncated || !strings.Contains(s.ReadError, tc.truncated)):
					t.Errorf("%s: truncated=%v read error %q, want the file flagged: %q", what, s.Truncated, s.ReadError, tc.truncated)
				}
				got = append(got, s)
			}
			if len(got) == 2 && (got[0].Truncated != got[1].Truncated || got[0].ReadError != got[1].ReadError || got[0].Lines != got[1].Lines) {
				t.Errorf("the readers disagree: built-in truncated=%v %q lines %d; igzip truncated=%v %q lines %d",
					got[0].Truncated, got[0].ReadError, got[0].Lines, got[1].Truncated, got[1].ReadError, got[1].Lines)
			}
		})
	}
}
