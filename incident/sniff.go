package incident

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// SniffResult says whether the first lines of a file look like its declared format.
type SniffResult struct {
	Compressed bool
	Checked    int    // data lines looked at
	Matching   int    // of those, lines that look right
	Example    string // first line that did not look right (truncated), if any
}

// OK reports whether the file looks like its declared format.
func (r SniffResult) OK() bool { return r.Checked > 0 && r.Matching*2 > r.Checked }

// Sniff reads the first lines of path (gzip detected by magic bytes) and
// checks them against format. It is a quick plausibility check for validate;
// ingest parses every line for real.
func Sniff(path, format string, maxLines int) (SniffResult, error) {
	var res SniffResult
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	magic, _ := br.Peek(2)
	var r io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return res, fmt.Errorf("gzip header: %w", err)
		}
		defer zr.Close()
		r = zr
		res.Compressed = true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() && res.Checked < maxLines {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		if len(line) == 0 {
			continue
		}
		if format == "cloudfront" && line[0] == '#' {
			continue
		}
		res.Checked++
		if looksLike(format, line) {
			res.Matching++
		} else if res.Example == "" {
			ex := string(line)
			if len(ex) > 80 {
				ex = ex[:80] + "…"
			}
			res.Example = ex
		}
	}
	if err := sc.Err(); err != nil && err != io.ErrUnexpectedEOF {
		return res, err
	}
	return res, nil
}

func looksLike(format string, line []byte) bool {
	switch format {
	case "nginx":
		// Access-log lines: a client address first, a quoted request somewhere.
		return line[0] != '{' && bytes.Count(line, []byte{'"'}) >= 2
	case "cloudfront":
		return bytes.Count(line, []byte{'\t'}) >= 10
	case "cloudflare":
		return line[0] == '{' && bytes.Contains(line, []byte(`"EdgeStartTimestamp"`))
	case "jsonl":
		return line[0] == '{' && strings.HasSuffix(strings.TrimSpace(string(line)), "}")
	}
	return false
}
