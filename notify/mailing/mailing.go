// Package mailing writes the letters of a run for a mailing house, from the
// delivery ledger's letter channel, exactly once: each letter is claimed
// into a numbered batch (state sending), written into DIR/<case>/<batch>.partial
// (one PDF per person, a PDF of them all per paper size for printing, a CSV
// for the mailing house and a manifest of hashes), recorded handed over
// (state sent) in one transaction, and only then renamed into place. A batch
// a killed or failed process left behind was never complete: the next run
// abandons it (its letters go back to pending, its .partial directory is
// removed) before claiming anything, and finishes the rename of a batch
// recorded handed over whose rename was cut short.
package mailing

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/safefile"
	"github.com/breachctl/breachctl/notify"
	"github.com/breachctl/breachctl/notify/letter"
	"github.com/breachctl/breachctl/notify/pipeline"
)

// Options configure WriteBatch.
type Options struct {
	Store    *store.Store
	Case     *incident.Case
	Composer *pipeline.Composer // for the letter channel, with its plan
	// OutDir is where batches go: OutDir/<case id>/letters-NNNN.
	OutDir string
	// Paper is auto (US Letter for the US and Canada, A4 elsewhere), a4
	// or letter.
	Paper    string
	Renderer *letter.Renderer
	Workers  int
	Limit    int // letters in this batch at most; 0: all due
	Logger   *slog.Logger
	// Done counts letters written, for a progress bar.
	Done *atomic.Int64
	// PerPrintFile bounds the letters of one print PDF (default 500).
	PerPrintFile int
	// Chunk is how many people are read from the user database and
	// rendered at once (default pipeline.BatchSize).
	Chunk int
}

// Result says what WriteBatch did.
type Result struct {
	Batch    *store.LetterBatch // nil when no letter was due
	Dir      string
	Letters  int
	Failed   int
	Pages    int
	ByPaper  map[string]int
	Failures map[string]int // reason -> letters
	Missing  int            // characters no font has, printed as a replacement
	// Abandoned are batches an earlier run left incomplete: their letters
	// went back to pending before this batch was claimed.
	Abandoned []store.LetterBatch
	// Finished are batches recorded handed over whose directory an earlier
	// run had not renamed yet: renamed now.
	Finished []string
	// Gone are batches recorded handed over whose directory is not where
	// it was written (moved, deleted, or on another machine).
	Gone []string
	// SentInOtherRun: letters of this run recorded sent (or returned)
	// because another run of the case handed the same notice over.
	SentInOtherRun int
	Elapsed        time.Duration
}

// CSVHeader is the first line of mailing.csv.
var CSVHeader = []string{"ref", "file", "paper", "pages", "user_id", "message_id", "kind", "locale", "country",
	"name", "address_1", "address_2", "address_3", "address_4", "address_5", "address_6", "address_7"}

// partial is the suffix of a batch directory being written.
const partial = ".partial"

// WriteBatch writes the run's due letters as one batch. See the package
// comment.
func WriteBatch(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
	paperFor, err := o.defaults()
	if err != nil {
		return nil, err
	}
	st, c, p := o.Store, o.Case, o.Composer
	pol, ok := c.Policy(incident.ChannelLetter)
	if !ok {
		return nil, errors.New("notify.channels has no letter channel")
	}
	led := st.Ledger(store.ChannelLetter)
	// If the lock's connection dies, another notify letters could start:
	// stop (the batch is abandoned, its letters pending again).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	release, err := led.LockNoticeSenderWatch(ctx, c.ID, func(err error) {
		o.Logger.Error("the letter lock was lost; stopping", "error", err)
		cancel()
	})
	if err != nil {
		if errors.Is(err, store.ErrNoticeSenderBusy) {
			return nil, fmt.Errorf("%w: another notify letters is writing a batch for this case; wait for it", err)
		}
		return nil, err
	}
	defer release()

	res := &Result{ByPaper: map[string]int{}, Failures: map[string]int{}}
	caseDir, err := filepath.Abs(filepath.Join(o.OutDir, c.ID))
	if err != nil {
		return nil, err
	}
	if err := recoverBatches(ctx, st, c.ID, res, o.Logger); err != nil {
		return nil, err
	}
	// A letter another run of the case handed over (or that came back) is
	// recorded so in this run, never written again.
	if res.SentInOtherRun, _, err = led.ReconcileRuns(ctx, c.ID, p.Run); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(caseDir, 0o700); err != nil {
		return nil, fmt.Errorf("letters: %w", err)
	}
	b, claimed, err := st.ClaimLetterBatch(ctx, c.ID, p.Run, caseDir, "letters-%04d", o.Limit)
	if err != nil || b == nil {
		res.Elapsed = time.Since(start)
		return res, err
	}
	res.Batch = b
	dir := filepath.Join(caseDir, b.Name)
	tmp := dir + partial
	// From here, any failure abandons the batch: its letters go back to
	// pending and its directory is removed.
	ok = false
	defer func() {
		if ok {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := st.AbandonLetterBatches(actx, c.ID); err != nil {
			o.Logger.Error("abandon letter batch", "batch", b.Batch, "error", err)
		}
		os.RemoveAll(tmp)
	}()
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("letters: %w", err)
	}
	w := &batchWriter{o: o, pol: pol, b: b, tmp: tmp, paperFor: paperFor, res: res, print: map[letter.Paper][]*letter.Letter{},
		sem: make(chan struct{}, o.Workers)}
	defer w.printing.Wait()
	ids := make([]string, len(claimed))
	for i, cl := range claimed {
		ids[i] = cl.UserID
	}
	done, failed, err := w.writeAll(ctx, p, ids)
	if err != nil {
		return nil, err
	}
	b.Pages = res.Pages
	b.BatchSHA256 = nullString(w.manifestSum)
	b.CSVSHA256 = nullString(w.csvSum)
	if err := st.HandOverLetterBatch(ctx, b, done, failed); err != nil {
		// The commit may have happened all the same (the connection was
		// lost at COMMIT): then the batch is handed over and its files
		// must stay.
		if !handedOver(context.WithoutCancel(ctx), st, c.ID, b.Batch) {
			return nil, err
		}
		o.Logger.Warn("the hand-over was recorded although its commit reported an error", "batch", b.Batch, "error", err)
	}
	ok = true
	// Recorded handed over: the rename is what a crash may cut short,
	// and the next run finishes it.
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("letters: batch %d is recorded handed over but its directory could not be renamed (run notify letters again to finish it): %w", b.Batch, err)
	}
	res.Dir = dir
	res.Letters, res.Failed = len(done), len(failed)
	for _, r := range failed {
		res.Failures[r]++
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// writeAll renders and writes the letters of ids in chunks, then the print
// files, mailing.csv and manifest.json, synced to disk.
func (w *batchWriter) writeAll(ctx context.Context, p *pipeline.Composer, ids []string) ([]store.LetterDone, map[string]string, error) {
	failed := map[string]string{}
	var done []store.LetterDone
	for lo := 0; lo < len(ids); lo += w.o.Chunk {
		chunk := ids[lo:min(lo+w.o.Chunk, len(ids))]
		msgs, bad, err := p.Compose(ctx, chunk)
		if err != nil {
			return nil, nil, fmt.Errorf("letters: %w", err)
		}
		d, err := w.write(ctx, chunk, msgs, bad, failed)
		if err != nil {
			return nil, nil, err
		}
		done = append(done, d...)
	}
	if err := w.finish(); err != nil {
		return nil, nil, err
	}
	if err := safefile.SyncFS(w.tmp); err != nil {
		return nil, nil, err
	}
	return done, failed, nil
}

// PreviewName is the directory Preview writes, under OutDir/<case id>.
const PreviewName = "letters-preview"

// Preview writes the letters of ids, laid out as a batch would lay them
// out, into OutDir/<case id>/letters-preview (replacing an earlier
// preview) for review before they are written for the mailing house. It
// claims and records nothing: the ledger is not touched, nothing is
// handed over, and the references say batch 0.
func Preview(ctx context.Context, o Options, ids []string) (*Result, error) {
	start := time.Now()
	paperFor, err := o.defaults()
	if err != nil {
		return nil, err
	}
	pol, ok := o.Case.Policy(incident.ChannelLetter)
	if !ok {
		return nil, errors.New("notify.channels has no letter channel")
	}
	caseDir, err := filepath.Abs(filepath.Join(o.OutDir, o.Case.ID))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(caseDir, 0o700); err != nil {
		return nil, fmt.Errorf("letters: %w", err)
	}
	dir := filepath.Join(caseDir, PreviewName)
	tmp := dir + partial
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("letters: %w", err)
	}
	res := &Result{ByPaper: map[string]int{}, Failures: map[string]int{}}
	b := &store.LetterBatch{CaseID: o.Case.ID, Run: o.Composer.Run, Name: PreviewName, OutDir: caseDir}
	w := &batchWriter{o: o, pol: pol, b: b, tmp: tmp, paperFor: paperFor, res: res, print: map[letter.Paper][]*letter.Letter{},
		sem: make(chan struct{}, o.Workers)}
	done, failed, err := w.writeAll(ctx, o.Composer, ids)
	w.printing.Wait()
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	res.Dir, res.Letters, res.Failed = dir, len(done), len(failed)
	for _, r := range failed {
		res.Failures[r]++
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// handedOver reports whether the ledger records a batch handed over.
func handedOver(ctx context.Context, st *store.Store, caseID string, batch int) bool {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bs, err := st.LetterBatches(ctx, caseID)
	if err != nil {
		return false
	}
	for _, b := range bs {
		if b.Batch == batch {
			return b.State == store.BatchHandedOver
		}
	}
	return false
}

// defaults fills in the options' defaults and returns the paper for a
// country.
func (o *Options) defaults() (func(country string) letter.Paper, error) {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.PerPrintFile <= 0 {
		o.PerPrintFile = 500
	}
	if o.Chunk <= 0 {
		o.Chunk = pipeline.BatchSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return paperChooser(o.Paper)
}

// recoverBatches abandons the batches left writing and finishes the
// renames of handed-over ones.
func recoverBatches(ctx context.Context, st *store.Store, caseID string, res *Result, log *slog.Logger) error {
	ab, err := st.AbandonLetterBatches(ctx, caseID)
	if err != nil {
		return err
	}
	for _, b := range ab {
		if err := os.RemoveAll(filepath.Join(b.OutDir, b.Name+partial)); err != nil {
			return fmt.Errorf("letters: remove the incomplete batch %d: %w", b.Batch, err)
		}
	}
	res.Abandoned = ab
	bs, err := st.LetterBatches(ctx, caseID)
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.State != store.BatchHandedOver {
			continue
		}
		dir := filepath.Join(b.OutDir, b.Name)
		if _, err := os.Stat(dir); err == nil {
			continue
		}
		if _, err := os.Stat(dir + partial); err == nil {
			if err := os.Rename(dir+partial, dir); err != nil {
				return fmt.Errorf("letters: finish batch %d: %w", b.Batch, err)
			}
			res.Finished = append(res.Finished, dir)
			continue
		}
		// Moved or deleted since (or written on another machine): say so,
		// its letters are recorded handed over.
		res.Gone = append(res.Gone, dir)
		log.Warn("a letter batch recorded handed over is not in its directory", "batch", b.Batch)
	}
	return nil
}

func paperChooser(s string) (func(country string) letter.Paper, error) {
	switch s {
	case "", "auto":
		return func(country string) letter.Paper {
			if country == "US" || country == "CA" {
				return letter.USLetter
			}
			return letter.A4
		}, nil
	}
	p, err := letter.ParsePaper(s)
	if err != nil {
		return nil, err
	}
	return func(string) letter.Paper { return p }, nil
}

type batchWriter struct {
	o        Options
	pol      incident.ChannelPolicy
	b        *store.LetterBatch
	tmp      string
	paperFor func(string) letter.Paper
	res      *Result

	seq     int
	rows    [][]string
	print   map[letter.Paper][]*letter.Letter
	printed map[letter.Paper]int

	// sem bounds the renders running at once (letters and print files)
	// to the workers; print files are rendered in the background.
	sem      chan struct{}
	printing sync.WaitGroup
	mu       sync.Mutex // files, printErr
	files    []fileSum
	printErr error

	manifestSum, csvSum string
}

type fileSum struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Pages  int    `json:"pages,omitempty"`
}

type job struct {
	i   int
	l   *letter.Letter
	m   *notify.Message
	out []byte
	res letter.Result
	err error
}

// write renders the letters of one chunk in parallel and writes their
// files in order.
func (w *batchWriter) write(ctx context.Context, ids []string, msgs map[string]*notify.Message, bad map[string]string, failed map[string]string) ([]store.LetterDone, error) {
	var jobs []*job
	for _, id := range ids {
		m := msgs[id]
		if m == nil {
			r := bad[id]
			if r == "" {
				r = "no letter could be made"
			}
			failed[id] = r
			continue
		}
		w.seq++
		jobs = append(jobs, &job{i: w.seq, m: m, l: w.letterOf(m, w.seq)})
	}
	ch := make(chan *job)
	var wg sync.WaitGroup
	for range w.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				var buf bytes.Buffer
				w.sem <- struct{}{}
				j.res, j.err = w.o.Renderer.Render(&buf, j.l)
				<-w.sem
				j.out = buf.Bytes()
			}
		}()
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var done []store.LetterDone
	for _, j := range jobs {
		if j.err != nil {
			failed[j.m.UserID] = "the letter could not be rendered: " + j.err.Error()
			continue
		}
		name := fmt.Sprintf("%05d.pdf", j.i)
		if err := safefile.WriteUnsynced(filepath.Join(w.tmp, name), func(f io.Writer) error { _, err := f.Write(j.out); return err }); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(j.out)
		hexSum := hex.EncodeToString(sum[:])
		w.addFile(fileSum{Name: name, SHA256: hexSum, Pages: j.res.Pages})
		w.res.Pages += j.res.Pages
		w.res.Missing += j.res.Missing
		w.res.ByPaper[j.l.Paper.String()]++
		pt := j.m.Parts
		row := []string{j.l.Ref, name, j.l.Paper.String(), strconv.Itoa(j.res.Pages), j.m.UserID, j.m.MessageID, j.m.Kind, j.m.Locale, pt.Country, pt.Name}
		for k := range 7 {
			a := ""
			if k < len(pt.Address) {
				a = pt.Address[k]
			}
			row = append(row, a)
		}
		w.rows = append(w.rows, row)
		done = append(done, store.LetterDone{UserID: j.m.UserID, SHA256: hexSum})
		if err := w.addPrint(j.l); err != nil {
			return nil, err
		}
		if w.o.Done != nil {
			w.o.Done.Add(1)
		}
	}
	return done, nil
}

// letterOf lays out a rendered notice as a letter.
func (w *batchWriter) letterOf(m *notify.Message, seq int) *letter.Letter {
	pt := m.Parts
	org := w.o.Case.Organization.Name
	from := append([]string{org}, w.pol.ReturnAddress...)
	body := string(pt.Plain)
	// The letter prints the date in its own place: the text's first line
	// when it is the date.
	if first, rest, ok := strings.Cut(body, "\n"); ok && strings.TrimSpace(first) == pt.Date {
		body = strings.TrimLeft(rest, "\n")
	}
	return &letter.Letter{
		Paper:      w.paperFor(pt.Country),
		Locale:     m.Locale,
		From:       from,
		ReturnLine: strings.Join(from, ", "),
		To:         append([]string{pt.Name}, pt.Address...),
		Date:       pt.Date,
		Ref:        fmt.Sprintf("%s-B%04d-%05d", w.o.Case.ID, w.b.Batch, seq),
		Subject:    pt.Subject,
		Body:       body,
	}
}

// addPrint adds a letter to its paper's print file, writing the file when
// it is full.
func (w *batchWriter) addPrint(l *letter.Letter) error {
	w.print[l.Paper] = append(w.print[l.Paper], l)
	if len(w.print[l.Paper]) >= w.o.PerPrintFile {
		return w.flushPrint(l.Paper)
	}
	return nil
}

// flushPrint renders a paper's print file in the background; finish
// waits for them all.
func (w *batchWriter) flushPrint(p letter.Paper) error {
	ls := w.print[p]
	if len(ls) == 0 {
		return w.printError()
	}
	if w.printed == nil {
		w.printed = map[letter.Paper]int{}
	}
	w.printed[p]++
	name := fmt.Sprintf("print-%s-%03d.pdf", p, w.printed[p])
	w.print[p] = nil
	w.printing.Add(1)
	go func() {
		defer w.printing.Done()
		w.sem <- struct{}{}
		defer func() { <-w.sem }()
		var buf bytes.Buffer
		r, err := w.o.Renderer.RenderBatch(&buf, ls)
		if err == nil {
			err = safefile.WriteUnsynced(filepath.Join(w.tmp, name), func(f io.Writer) error { _, err := f.Write(buf.Bytes()); return err })
		}
		if err != nil {
			w.mu.Lock()
			if w.printErr == nil {
				w.printErr = fmt.Errorf("letters: print file %s: %w", name, err)
			}
			w.mu.Unlock()
			return
		}
		sum := sha256.Sum256(buf.Bytes())
		w.addFile(fileSum{Name: name, SHA256: hex.EncodeToString(sum[:]), Pages: r.Pages})
	}()
	return w.printError()
}

func (w *batchWriter) addFile(f fileSum) {
	w.mu.Lock()
	w.files = append(w.files, f)
	w.mu.Unlock()
}

func (w *batchWriter) printError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.printErr
}

// finish writes the last print files, mailing.csv and manifest.json.
func (w *batchWriter) finish() error {
	for _, p := range []letter.Paper{letter.A4, letter.USLetter} {
		if err := w.flushPrint(p); err != nil {
			return err
		}
	}
	w.printing.Wait()
	if err := w.printError(); err != nil {
		return err
	}
	sort.Slice(w.files, func(i, j int) bool { return w.files[i].Name < w.files[j].Name })
	var csvBuf bytes.Buffer
	cw := csv.NewWriter(&csvBuf)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range w.rows {
		for i, f := range r {
			r[i] = csvSafe(f)
		}
		if err := cw.Write(r); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := safefile.WriteUnsynced(filepath.Join(w.tmp, "mailing.csv"), func(f io.Writer) error { _, err := f.Write(csvBuf.Bytes()); return err }); err != nil {
		return err
	}
	sum := sha256.Sum256(csvBuf.Bytes())
	w.csvSum = hex.EncodeToString(sum[:])
	man := struct {
		Case    string    `json:"case_id"`
		Run     int       `json:"run"`
		Batch   int       `json:"batch"`
		Letters int       `json:"letters"`
		Pages   int       `json:"pages"`
		Written time.Time `json:"written_at"`
		CSV     string    `json:"mailing_csv_sha256"`
		Files   []fileSum `json:"files"`
	}{w.o.Case.ID, w.b.Run, w.b.Batch, len(w.rows), w.res.Pages, time.Now().UTC().Truncate(time.Second), w.csvSum, w.files}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return err
	}
	mb = append(mb, '\n')
	if err := safefile.WriteUnsynced(filepath.Join(w.tmp, "manifest.json"), func(f io.Writer) error { _, err := f.Write(mb); return err }); err != nil {
		return err
	}
	ms := sha256.Sum256(mb)
	w.manifestSum = hex.EncodeToString(ms[:])
	return nil
}

// csvSafe keeps a field from being read as a formula by a spreadsheet
// (a name or an address starting with = + - @).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
