package logs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/breachctl/breachctl/incident"
)

// A jsonRecordParser reads JSON records (jsonl and the formats built on
// it). The reader frames a file of them by JSON values instead of lines
// when the file is one JSON array ("[{...},{...}]", as exports are) or
// holds pretty-printed records spread over several lines; then a record
// counts as a line (FileStats.Records) and a reject names the line its
// record begins on.
type jsonRecordParser interface {
	Parser
	jsonRecords()
}

// framedJSON reports whether the file br starts is framed by JSON values:
// its first non-blank byte opens an array, or its first line is a lone
// "{" (a pretty-printed record). A file of one record per line is not.
func framedJSON(br *bufio.Reader) bool {
	b, _ := br.Peek(min(br.Size(), 64<<10))
	i := skipWS(b, 0)
	if i >= len(b) {
		return false
	}
	if recordsWrapper(b) > 0 {
		return true
	}
	switch b[i] {
	case '[':
		return true
	case '{':
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r') {
			j++
		}
		return j < len(b) && b[j] == '\n'
	}
	return false
}

// recordsWrapperRe is the start of an object that holds the records in
// its "records" array, as Azure Monitor sends logs through Event Hubs and
// some exports write them: {"records": [{...}, {...}]}.
var recordsWrapperRe = regexp.MustCompile(`^\s*\{\s*"records"\s*:\s*\[`)

// recordsWrapper returns the length of b's {"records": [ prefix, or 0.
func recordsWrapper(b []byte) int {
	if loc := recordsWrapperRe.FindIndex(b); loc != nil {
		return loc[1]
	}
	return 0
}

// readJSONRecords frames r by JSON values and hands the records to the
// workers, each on one line of a chunk (line breaks between tokens become
// spaces; one inside a string stays a control character, which the
// scanner rejects), with the line each begins on. Text between records
// that is not JSON is a record of its own up to the end of its line (the
// parser rejects it). A file that ends inside a record, or before the ']'
// closing its array, is flagged as truncated and the partial record is a
// reject. It reports false when cancelled.
func readJSONRecords(ctx context.Context, idx int, p Parser, r io.Reader, opts *Options, pool *sync.Pool, send func(chunk) bool, st *FileStats) bool {
	st.Records = true
	// A {"records": [ wrapper: its records are read as an array's, and its
	// closing '}' after the array's ']' is expected.
	wrapped, wrapClosed := false, false
	startLine := int64(1)
	if br, ok := r.(*bufio.Reader); ok {
		b, _ := br.Peek(min(br.Size(), 64<<10))
		if n := recordsWrapper(b); n > 0 {
			startLine += int64(bytes.Count(b[:n], []byte{'\n'}))
			_, _ = br.Discard(n)
			wrapped = true
		}
	}
	bufp := pool.Get().(*[]byte)
	ob := (*bufp)[:0]
	var lines []int64
	flush := func() bool {
		if len(lines) == 0 {
			return true
		}
		c := chunk{file: idx, firstLine: lines[0], data: ob, buf: bufp, parser: p, lines: lines}
		bufp, lines = pool.Get().(*[]byte), nil
		ob = (*bufp)[:0]
		return send(c)
	}
	var (
		line             = startLine
		depth            int
		inStr, esc       bool
		garbage, tooLong bool
		inArray, closed  bool
		start            int   // offset of the current record in ob
		recLine          int64 // its first line
	)
	inArray = wrapped
	begin := func() bool {
		if len(ob) >= opts.ChunkSize && !flush() {
			return false
		}
		start, recLine, tooLong = len(ob), line, false
		return true
	}
	finish := func() {
		if tooLong {
			ob = ob[:start]
			st.reject(opts, idx, recLine, incident.TooLongReason(opts.MaxLine))
			return
		}
		ob = append(ob, '\n')
		lines = append(lines, recLine)
	}
	put := func(c byte) {
		if len(ob)-start >= opts.MaxLine {
			tooLong = true
			return
		}
		ob = append(ob, c)
	}
	in := make([]byte, 256<<10)
	for {
		n, rerr := r.Read(in)
		for _, c := range in[:n] {
			switch {
			case garbage:
				if c == '\n' {
					finish()
					garbage = false
					line++
				} else if c != '\r' {
					put(c)
				}
			case depth == 0:
				switch c {
				case '\n':
					line++
				case ' ', '\t', '\r', ',':
				case '{':
					if !begin() {
						pool.Put(bufp)
						return false
					}
					put(c)
					depth = 1
				case '[':
					if !inArray && !closed {
						inArray = true
						break
					}
					fallthrough
				default:
					if c == ']' && inArray && !closed {
						closed = true
						break
					}
					if c == '}' && wrapped && closed && !wrapClosed {
						wrapClosed = true
						break
					}
					if !begin() {
						pool.Put(bufp)
						return false
					}
					put(c)
					garbage = true
				}
			case inStr:
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				case c == '\n':
					line++
					c = 0x01 // a raw line break in a string: still invalid
				}
				put(c)
			default:
				switch c {
				case '"':
					inStr = true
				case '{', '[':
					depth++
				case '}', ']':
					depth--
				case '\n':
					line++
					c = ' '
				case '\r':
					c = ' '
				}
				put(c)
				if depth == 0 {
					finish()
				}
			}
		}
		if rerr != nil {
			if rerr != io.EOF {
				st.Truncated = true
				st.ReadError = describeReadErr(rerr, st.Compressed)
				if depth > 0 || garbage {
					ob = ob[:start]
					st.reject(opts, idx, recLine, "the file ends inside this JSON record (read error)")
				}
				break
			}
			switch {
			case garbage:
				finish()
			case depth > 0:
				ob = ob[:start]
				st.reject(opts, idx, recLine, "the file ends inside this JSON record (truncated?)")
				st.Truncated = true
				st.ReadError = fmt.Sprintf("the file ends inside the JSON record that begins on line %d (truncated?)", recLine)
			case inArray && !closed:
				st.Truncated = true
				st.ReadError = "the file ends before the ']' closing its JSON array (truncated?)"
			case wrapped && !wrapClosed:
				st.Truncated = true
				st.ReadError = "the file ends before the '}' closing its {\"records\": [...]} object (truncated?)"
			}
			break
		}
		if ctx.Err() != nil {
			pool.Put(bufp)
			return false
		}
	}
	if len(lines) == 0 {
		pool.Put(bufp)
		return true
	}
	return flush()
}
