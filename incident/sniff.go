package incident

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// MaxLine is the longest log line accepted, by validate's sniffer and by
// ingest's reader alike (logs.DefaultMaxLine is this value): a longer line is
// rejected, with TooLongReason, and counted. The line ending is not counted.
const MaxLine = 1 << 20

// TooLongReason is why a line longer than max bytes is rejected.
func TooLongReason(max int) string { return fmt.Sprintf("longer than %d bytes", max) }

// SniffResult says whether the first lines of a file look like its declared format.
type SniffResult struct {
	Compressed bool
	Checked    int    // data lines looked at
	Matching   int    // of those, lines that look right
	Example    string // first line that did not look right (truncated), if any
	// Reject is the first line longer than MaxLine, as "line N: reason"
	// (ingest rejects it with the same reason); it does not look right.
	Reject string
}

// OK reports whether the file looks like its declared format.
func (r SniffResult) OK() bool { return r.Checked > 0 && r.Matching*2 > r.Checked }

// Sniff reads the first lines of path (gzip detected by magic bytes) and
// checks them against format. It is a quick plausibility check for validate;
// ingest parses every line for real. Only a regular file is read (see
// OpenRegular).
func Sniff(path, format string, maxLines int) (SniffResult, error) {
	var res SniffResult
	f, err := OpenRegular(path)
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
	lr := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for lineNo := 1; res.Checked < maxLines; lineNo++ {
		var tooLong bool
		var err error
		buf, tooLong, err = readLine(lr, buf[:0], MaxLine)
		if err != nil && err != io.EOF {
			if err == io.ErrUnexpectedEOF {
				break // a truncated gzip file: ingest counts its lines up to the cut
			}
			return res, err
		}
		if err == io.EOF && len(buf) == 0 && !tooLong {
			break
		}
		line := buf
		switch {
		case tooLong:
			res.Checked++
			if res.Reject == "" {
				res.Reject = fmt.Sprintf("line %d: %s", lineNo, TooLongReason(MaxLine))
			}
		case len(line) == 0:
		case format == "cloudfront" && line[0] == '#':
		default:
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
		if err == io.EOF {
			break
		}
	}
	return res, nil
}

// readLine reads one line into buf (without its line ending). A line longer
// than max bytes is read to its end but not kept: tooLong is set and the
// returned line is empty. err is io.EOF after the last line.
func readLine(br *bufio.Reader, buf []byte, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > max+2 { // the line, "\r\n"
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, frag...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte{'\n'})
		buf = bytes.TrimSuffix(buf, []byte{'\r'})
		if len(buf) > max {
			tooLong, buf = true, buf[:0]
		}
		return buf, tooLong, err
	}
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
