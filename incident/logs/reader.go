package logs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"

	"github.com/breachctl/breachctl/incident"
)

// DefaultMaxLine is the longest line accepted; a longer one is rejected and
// counted. It is validate's limit too (incident.MaxLine).
const DefaultMaxLine = incident.MaxLine

// MaxRejectsKept is how many rejected lines are kept per file (the rest are counted).
const MaxRejectsKept = 20

// maxUnknownCache bounds the distinct unknown cache wordings kept per file.
const maxUnknownCache = 20

// Input is one file to read.
type Input struct {
	Path   string // a file on disk (standard input must be spooled first: see Spool)
	Name   string // shown in rejects and errors
	Parser Parser
}

// Reject is a rejected line: where and why.
type Reject struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

// FileStats accounts for every line of one file: Parsed + Rejected == Lines.
type FileStats struct {
	Lines         int64            `json:"lines"`
	Parsed        int64            `json:"parsed"`
	Rejected      int64            `json:"rejected"`
	OutsideWindow int64            `json:"outside_window"`
	Kept          int64            `json:"kept"`   // parsed, inside the window, given to the sink
	Coarse        int64            `json:"coarse"` // kept records with one-second times
	Rejects       []Reject         `json:"rejects"`
	UnknownCache  map[string]int64 `json:"unknown_cache,omitempty"`
	Compressed    bool             `json:"compressed"`
	Truncated     bool             `json:"truncated"`
	ReadError     string           `json:"read_error,omitempty"` // why the file ended early
	Bytes         int64            `json:"bytes"`                // bytes read from disk
	// Records: the file was read as JSON records (an array, or records
	// over several lines), so Lines counts records and a reject's Line is
	// the line its record begins on.
	Records bool `json:"records,omitempty"`
}

// A Sink receives the kept records of one worker. Records are borrowed: copy
// what you keep. Each worker has its own Sink, so a Sink needs no locking.
type Sink interface {
	Record(file int, line int64, rec *Record)
}

// Options tune Read.
type Options struct {
	Workers   int   // parsing goroutines; default GOMAXPROCS
	Readers   int   // files read (and decompressed) at once; default Workers
	From, To  int64 // keep records with From <= Time <= To (Unix ns); To == 0 keeps all
	MaxLine   int   // default DefaultMaxLine
	ChunkSize int   // bytes handed to a worker at once; default 1 MiB
	// NewSink makes the sink of worker w (nil: records are only counted).
	NewSink func(w int) Sink
	// BeforeFile runs in the reading goroutine just before file i is opened,
	// e.g. to hash it and record it as evidence. An error stops the read.
	BeforeFile func(i int) error
	// Progress, when set, is advanced by the bytes read from disk.
	Progress *atomic.Int64
	// Gunzip, when set, is the path of an external gzip decompressor that
	// reads stdin and writes stdout with "-dc" (Intel ISA-L's igzip is about
	// 2.5x faster than any Go inflate); empty uses klauspost/compress.
	Gunzip string
	// MaxLines, when > 0, reads only the first MaxLines lines of each file
	// (validate's sample, logs parse --limit).
	MaxLines int64
	// KeepRejects is how many rejected lines are kept per file (default
	// MaxRejectsKept); the rest are counted.
	KeepRejects int
	// OnReject, when set, is called for every rejected line, from the
	// goroutine that rejected it (logs parse prints each one).
	OnReject func(file int, r Reject)
}

type chunk struct {
	file      int
	firstLine int64 // 1-based number of the first line in data
	data      []byte
	buf       *[]byte
	parser    Parser
	lines     []int64 // JSON records (readJSONRecords): the first line of each
}

// Read parses every input, in parallel, and returns the accounting of each
// file (in input order). Per-file read problems (a truncated gzip stream, an
// I/O error) are reported in FileStats, not as an error; the error is for
// cancellation and BeforeFile failures.
func Read(ctx context.Context, inputs []Input, opts Options) ([]FileStats, error) {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Readers <= 0 {
		opts.Readers = opts.Workers
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 1 << 20
	}
	if opts.KeepRejects <= 0 {
		opts.KeepRejects = MaxRejectsKept
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	stats := make([]FileStats, len(inputs))
	locks := make([]sync.Mutex, len(inputs))
	bufSize := opts.ChunkSize + opts.MaxLine + 1
	pool := sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

	chunks := make(chan chunk, 2*opts.Workers)
	files := make(chan int)
	var readers, workers sync.WaitGroup

	for w := 0; w < opts.Workers; w++ {
		var sink Sink
		if opts.NewSink != nil {
			sink = opts.NewSink(w)
		}
		workers.Add(1)
		go func() {
			defer workers.Done()
			var local FileStats
			for c := range chunks {
				local = FileStats{}
				parseChunk(c, &opts, sink, &local)
				pool.Put(c.buf)
				locks[c.file].Lock()
				merge(&stats[c.file], &local, opts.KeepRejects)
				locks[c.file].Unlock()
			}
		}()
	}
	for r := 0; r < opts.Readers; r++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := range files {
				if opts.BeforeFile != nil {
					if err := opts.BeforeFile(i); err != nil {
						cancel(err)
						return
					}
				}
				rs := readFile(ctx, i, inputs[i], &opts, &pool, chunks)
				locks[i].Lock()
				merge(&stats[i], &rs, opts.KeepRejects)
				stats[i].Compressed, stats[i].Truncated, stats[i].ReadError, stats[i].Bytes, stats[i].Records = rs.Compressed, rs.Truncated, rs.ReadError, rs.Bytes, rs.Records
				locks[i].Unlock()
			}
		}()
	}
feed:
	for i := range inputs {
		select {
		case files <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(files)
	readers.Wait()
	close(chunks)
	workers.Wait()
	if err := context.Cause(ctx); err != nil {
		return stats, err
	}
	for i := range stats {
		sort.Slice(stats[i].Rejects, func(a, b int) bool { return stats[i].Rejects[a].Line < stats[i].Rejects[b].Line })
		if len(stats[i].Rejects) > opts.KeepRejects {
			stats[i].Rejects = stats[i].Rejects[:opts.KeepRejects]
		}
	}
	return stats, nil
}

// merge adds src's counts into dst.
func merge(dst, src *FileStats, keep int) {
	dst.Lines += src.Lines
	dst.Parsed += src.Parsed
	dst.Rejected += src.Rejected
	dst.OutsideWindow += src.OutsideWindow
	dst.Kept += src.Kept
	dst.Coarse += src.Coarse
	dst.Rejects = append(dst.Rejects, src.Rejects...)
	if len(dst.Rejects) > 4*keep {
		sort.Slice(dst.Rejects, func(a, b int) bool { return dst.Rejects[a].Line < dst.Rejects[b].Line })
		dst.Rejects = dst.Rejects[:keep]
	}
	for k, v := range src.UnknownCache {
		if dst.UnknownCache == nil {
			dst.UnknownCache = map[string]int64{}
		}
		if _, ok := dst.UnknownCache[k]; ok || len(dst.UnknownCache) < maxUnknownCache {
			dst.UnknownCache[k] += v
		} else {
			dst.UnknownCache["(other)"] += v
		}
	}
}

func (s *FileStats) reject(opts *Options, file int, line int64, reason string) {
	s.Lines++
	s.Rejected++
	if len(s.Rejects) < opts.KeepRejects {
		s.Rejects = append(s.Rejects, Reject{Line: line, Reason: reason})
	}
	if opts.OnReject != nil {
		opts.OnReject(file, Reject{Line: line, Reason: reason})
	}
}

// parseChunk parses the complete lines of c.
func parseChunk(c chunk, opts *Options, sink Sink, st *FileStats) {
	data := c.data
	line := c.firstLine
	var rec Record
	for k := 0; len(data) > 0; k++ {
		if c.lines != nil {
			line = c.lines[k]
		}
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
		switch {
		case len(l) == 0:
			st.reject(opts, c.file, line, "empty line")
		case len(l) > opts.MaxLine:
			st.reject(opts, c.file, line, incident.TooLongReason(opts.MaxLine))
		default:
			rec = Record{}
			if err := c.parser.Parse(l, &rec); err != nil {
				var pe *ParseError
				if errors.As(err, &pe) {
					st.reject(opts, c.file, line, pe.Reason)
				} else {
					st.reject(opts, c.file, line, err.Error())
				}
				break
			}
			st.Lines++
			st.Parsed++
			if rec.Cache == CacheUnknown {
				if st.UnknownCache == nil {
					st.UnknownCache = map[string]int64{}
				}
				if _, ok := st.UnknownCache[string(rec.CacheRaw)]; ok || len(st.UnknownCache) < maxUnknownCache {
					st.UnknownCache[string(rec.CacheRaw)]++
				} else {
					st.UnknownCache["(other)"]++
				}
			}
			if opts.To != 0 && (rec.Time < opts.From || rec.Time > opts.To) {
				st.OutsideWindow++
				break
			}
			st.Kept++
			if rec.Coarse {
				st.Coarse++
			}
			if sink != nil {
				sink.Record(c.file, line, &rec)
			}
		}
		line++
	}
}

// countingReader adds the bytes read to a progress counter.
type countingReader struct {
	r     io.Reader
	n     int64
	total *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.total != nil {
		c.total.Add(int64(n))
	}
	return n, err
}

// headerSplitter is the per-file header state of a HeaderParser format.
type headerSplitter struct {
	hp  HeaderParser
	cur Parser
}

// readFile streams one file into chunks of complete lines. It returns the
// lines it accounted for itself (over-long lines) and how the file ended.
func readFile(ctx context.Context, idx int, in Input, opts *Options, pool *sync.Pool, out chan<- chunk) FileStats {
	var st FileStats
	f, err := incident.OpenRegular(in.Path)
	if err != nil {
		st.Truncated = true
		st.ReadError = err.Error()
		return st
	}
	defer f.Close()
	cr := &countingReader{r: f, total: opts.Progress}
	br := bufio.NewReaderSize(cr, 256<<10)
	var r io.Reader = br
	var ext *exec.Cmd
	var extErr bytes.Buffer
	var extOut *lenReader // igzip's output, checksummed (see gzipEnd)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b && opts.Gunzip != "" {
		st.Compressed = true
		ext = exec.CommandContext(ctx, opts.Gunzip, "-dc")
		ext.Stdin = br
		ext.Stderr = &extErr
		out, err := ext.StdoutPipe()
		if err == nil {
			err = ext.Start()
		}
		if err != nil {
			st.Truncated = true
			st.ReadError = fmt.Sprintf("start %s: %v", opts.Gunzip, err)
			return st
		}
		extOut = &lenReader{r: out}
		r = extOut
	} else if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		st.Compressed = true
		zr, err := gzip.NewReader(br)
		if err != nil {
			st.Truncated = true
			st.ReadError = "gzip: " + err.Error()
			st.Bytes = cr.n
			return st
		}
		defer zr.Close()
		r = zr
	}
	var hs *headerSplitter
	if hp, ok := in.Parser.(HeaderParser); ok {
		hs = &headerSplitter{hp: hp, cur: hp}
	}
	send := func(c chunk) bool {
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			pool.Put(c.buf)
			return false
		}
	}
	framed := false
	if _, ok := in.Parser.(jsonRecordParser); ok {
		jr := bufio.NewReaderSize(r, 64<<10)
		r, framed = jr, framedJSON(jr)
	}
	if framed && !readJSONRecords(ctx, idx, in.Parser, r, opts, pool, send, &st) {
		if ext != nil { // cancelled: stop the decompressor and reap it
			_ = ext.Process.Kill()
			_ = ext.Wait()
		}
		return st
	}
	line := int64(1)
	carry := 0
	bufp := pool.Get().(*[]byte)
	skipping := false // inside an over-long line
	for !framed {
		buf := *bufp
		n := carry
		eof := false
		var rerr error
		for n < len(buf) {
			m, err := r.Read(buf[n:])
			n += m
			if err == io.EOF {
				eof = true
				break
			}
			if err != nil {
				rerr = err
				break
			}
		}
		data := buf[:n]
		if skipping {
			i := bytes.IndexByte(data, '\n')
			if i < 0 && !eof && rerr == nil {
				carry = 0
				continue
			}
			skipping = false
			if i < 0 {
				data = data[:0]
			} else {
				data = data[i+1:]
			}
			line++
			n = copy(buf, data)
			data = buf[:n]
		}
		end := n
		if !eof && rerr == nil {
			last := bytes.LastIndexByte(data, '\n')
			if last < 0 {
				// A full buffer without a newline: longer than MaxLine.
				st.reject(opts, idx, line, incident.TooLongReason(opts.MaxLine))
				skipping = true
				carry = 0
				continue
			}
			end = last + 1
		}
		limited := false
		if opts.MaxLines > 0 {
			end, limited = cutLines(data, end, opts.MaxLines-line+1)
		}
		next := pool.Get().(*[]byte)
		carry = copy(*next, data[end:])
		if end > 0 {
			if !emitChunks(idx, data[:end], &line, bufp, hs, in.Parser, send, pool, &st) {
				pool.Put(next)
				if ext != nil { // cancelled: stop the decompressor and reap it
					_ = ext.Process.Kill()
					_ = ext.Wait()
				}
				return st
			}
		} else {
			pool.Put(bufp)
		}
		bufp = next
		if limited {
			if ext != nil { // the rest is not wanted: stop the decompressor
				_ = ext.Process.Kill()
				_ = ext.Wait()
				ext = nil
			}
			break
		}
		if ctx.Err() != nil {
			break
		}
		if eof || rerr != nil {
			if rerr != nil {
				st.Truncated = true
				st.ReadError = describeReadErr(rerr, st.Compressed)
			}
			break
		}
	}
	pool.Put(bufp)
	if ext != nil {
		if err := ext.Wait(); err != nil && !st.Truncated && ctx.Err() == nil {
			st.Truncated = true
			msg := strings.TrimSpace(extErr.String())
			if strings.Contains(msg, "not contain a complete gzip") {
				st.ReadError = "gzip stream ends early (file truncated)"
			} else {
				st.ReadError = fmt.Sprintf("gzip (%s): %v %s", opts.Gunzip, err, clip([]byte(msg)))
			}
		}
		if !st.Truncated && ctx.Err() == nil {
			if err := gzipEnd(ctx, f, extOut); err != nil {
				st.Truncated = true
				st.ReadError = describeReadErr(err, true)
			}
		}
	}
	st.Bytes = cr.n
	return st
}

// cutLines shortens data[:end] to its first n lines (n <= 0: none); cut
// says it was shortened (the file is read no further).
func cutLines(data []byte, end int, n int64) (int, bool) {
	if n <= 0 {
		return 0, true
	}
	pos := 0
	for ; n > 0; n-- {
		i := bytes.IndexByte(data[pos:end], '\n')
		if i < 0 {
			return end, false
		}
		pos += i + 1
	}
	return pos, true
}

func describeReadErr(err error, compressed bool) string {
	if compressed && errors.Is(err, io.ErrUnexpectedEOF) {
		return "gzip stream ends early (file truncated)"
	}
	if compressed && errors.Is(err, gzip.ErrHeader) {
		// Read only sees this after a complete member: the next bytes
		// are not a gzip member.
		return "data after the end of the gzip stream that is not gzip (the file was appended to or damaged); it was not read"
	}
	if compressed {
		return "gzip: " + err.Error()
	}
	return err.Error()
}

// lenReader passes igzip's output through, counting its length.
type lenReader struct {
	r io.Reader
	n int64
}

func (c *lenReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// gzipEnd checks, after igzip decompressed f without complaint, that
// nothing followed the gzip stream: igzip stops at the end of the last
// member and ignores whatever comes after it (exit 0), where the built-in
// reader reports it. A single-member file ends with that member's trailer,
// whose last four bytes are the length of everything igzip wrote (mod
// 2^32): when they are, the file ends where the stream does. (Bytes
// appended by accident end that way once in 2^32; the trailer's CRC-32
// would add nothing against bytes appended on purpose, which can carry any
// trailer, and summing 6 GB of output cost a second of CPU.) Other files
// (several members, or data after the stream) are read once more with the
// built-in reader, which tells the two apart; its error is the built-in
// reader's own, so both readers report a file alike.
func gzipEnd(ctx context.Context, f *os.File, out *lenReader) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size >= 18 { // the smallest gzip member
		var tr [4]byte
		if _, err := f.ReadAt(tr[:], size-4); err != nil {
			return err
		}
		if binary.LittleEndian.Uint32(tr[:]) == uint32(out.n) {
			return nil
		}
	}
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, size))
	if err != nil {
		return err
	}
	defer zr.Close()
	buf := make([]byte, 256<<10)
	for ctx.Err() == nil { // cancelled: Read reports the cancellation
		if _, err := zr.Read(buf); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

// emitChunks sends data (complete lines) as one chunk, or, for formats with
// header lines, as the pieces between header lines, applying each header.
// It owns bufp and advances *line past every line in data.
func emitChunks(idx int, data []byte, line *int64, bufp *[]byte, hs *headerSplitter, p Parser, send func(chunk) bool, pool *sync.Pool, st *FileStats) bool {
	if hs == nil {
		c := chunk{file: idx, firstLine: *line, data: data, buf: bufp, parser: p}
		*line += int64(bytes.Count(data, []byte{'\n'}))
		if data[len(data)-1] != '\n' {
			*line++
		}
		return send(c)
	}
	// Split at header lines. Pieces share bufp, so copy all but the last.
	for len(data) > 0 {
		h := -1
		if data[0] == '#' {
			h = 0
		} else if i := bytes.Index(data, []byte("\n#")); i >= 0 {
			h = i + 1
		}
		if h == 0 {
			e := bytes.IndexByte(data, '\n')
			hdr := data
			if e >= 0 {
				hdr, data = data[:e], data[e+1:]
			} else {
				data = nil
			}
			hp := hs.hp
			if cur, ok := hs.cur.(HeaderParser); ok {
				hp = cur // a #Version after a #Fields keeps that field order
			}
			np, err := hp.Header(bytes.TrimRight(hdr, "\r"))
			if err != nil {
				hs.cur = badHeader{reason: fmt.Sprintf("no usable #Fields header (line %d: %v)", *line, err)}
			} else {
				hs.cur = np
			}
			*line++
			continue
		}
		piece := data
		if h > 0 {
			piece, data = data[:h], data[h:]
		} else {
			data = nil
		}
		var c chunk
		if len(data) == 0 {
			c = chunk{file: idx, firstLine: *line, data: piece, buf: bufp, parser: hs.cur}
			bufp = nil
		} else {
			cp := pool.Get().(*[]byte)
			n := copy(*cp, piece)
			c = chunk{file: idx, firstLine: *line, data: (*cp)[:n], buf: cp, parser: hs.cur}
		}
		*line += int64(bytes.Count(piece, []byte{'\n'}))
		if piece[len(piece)-1] != '\n' {
			*line++
		}
		if !send(c) {
			if bufp != nil {
				pool.Put(bufp)
			}
			return false
		}
	}
	if bufp != nil {
		pool.Put(bufp)
	}
	return true
}

// badHeader rejects every line after an unusable header.
type badHeader struct{ reason string }

func (b badHeader) Parse([]byte, *Record) error { return reject(b.reason) }

// HashFile returns the SHA-256 (hex) and size of the file at path.
func HashFile(path string) (string, int64, error) {
	return HashFileContext(context.Background(), path)
}

// HashFileContext is HashFile, stopped by ctx. Only a regular file is read
// (see incident.OpenRegular).
func HashFileContext(ctx context.Context, path string) (string, int64, error) {
	f, err := incident.OpenRegular(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20))
	if err != nil {
		return "", n, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader stops reading once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Spool copies r (standard input) to a new 0600 file in dir, hashing it on
// the way, so it can be kept as evidence and read like any file.
func Spool(r io.Reader, dir string) (path, sum string, size int64, err error) {
	return SpoolContext(context.Background(), r, dir)
}

// SpoolContext is Spool, stopped by ctx even while r blocks (a terminal, or
// a pipe whose writer never ends): the copy is abandoned and its file
// removed. On any error no file is left.
func SpoolContext(ctx context.Context, r io.Reader, dir string) (path, sum string, size int64, err error) {
	if err := ctx.Err(); err != nil {
		return "", "", 0, err
	}
	f, err := os.CreateTemp(dir, "breachctl-stdin-*.log")
	if err != nil {
		return "", "", 0, err
	}
	type copied struct {
		n   int64
		sum string
		err error
	}
	done := make(chan copied, 1)
	go func() {
		h := sha256.New()
		n, err := io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, make([]byte, 1<<20))
		done <- copied{n, hex.EncodeToString(h.Sum(nil)), err}
	}()
	var c copied
	select {
	case c = <-done:
	case <-ctx.Done():
		// The copy may stay blocked in r.Read; its writes fail once f is closed.
		c.err = ctx.Err()
	}
	if c.err == nil {
		c.err = f.Close()
	} else {
		f.Close()
	}
	if c.err != nil {
		os.Remove(f.Name())
		if ctx.Err() != nil {
			return "", "", 0, fmt.Errorf("read standard input: %w", ctx.Err())
		}
		return "", "", 0, fmt.Errorf("read standard input: %w", c.err)
	}
	return f.Name(), c.sum, c.n, nil
}
