package mailing

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/pgtest"
	"github.com/breachctl/breachctl/notify"
	"github.com/breachctl/breachctl/notify/letter"
	"github.com/breachctl/breachctl/notify/pipeline"
)

// contacts is a user database: its Contacts fails once failAfter calls
// were made (0: never), as a database going away mid-batch would.
type contacts struct {
	m         map[string]correlate.Contact
	calls     atomic.Int32
	failAfter int32
}

var errGone = errors.New("user database: connection refused")

func (f *contacts) Contacts(_ context.Context, ids []string) (map[string]correlate.Contact, error) {
	if n := f.calls.Add(1); f.failAfter > 0 && n > f.failAfter {
		return nil, errGone
	}
	out := map[string]correlate.Contact{}
	for _, id := range ids {
		if c, ok := f.m[id]; ok {
			out[id] = c
		}
	}
	return out, nil
}

type fixture struct {
	st       *store.Store
	c        *incident.Case
	run      int
	accounts []store.AffectedAccount
	contacts *contacts
	fonts    *letter.Fonts
	out      string
}

// newFixture: n affected people, every letter due (always), one without a
// postal address; Japanese, US and German people.
func newFixture(t *testing.T, n int) *fixture { return newFixtureTB(t, n) }

func newFixtureTB(t testing.TB, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile("../testdata/case.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "case.yaml")
	src := string(raw) + "  channels:\n    - {channel: letter, when: [always], return_address: [\"1-1 Example-cho\", \"Tokyo 100-0001\"]}\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := incident.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	url, _ := pgtest.NewDB(t)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.UpsertCase(ctx, store.Case{ID: c.ID, Title: "t", CaseFile: "f", CaseFileSHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	run, err := st.NewRun(ctx, c.ID, "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fonts, err := letter.LoadFonts("")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	f := &fixture{st: st, c: c, run: run, contacts: &contacts{m: map[string]correlate.Contact{}}, fonts: fonts, out: t.TempDir()}
	for i := range n {
		id := fmt.Sprint(1000 + i)
		ct := correlate.Contact{ID: id, Name: "Taro Example", Locale: "en", Country: "DE", Region: "DE-BE", HasPostal: true,
			PostalAddress: "Hauptstraße " + id + "\n10115 Berlin\nGermany"}
		switch i % 3 {
		case 0:
			ct.Name, ct.Locale, ct.Country, ct.Region = "山田 太郎", "ja", "JP", "JP-13"
			ct.PostalAddress = "〒100-0001\n東京都千代田区千代田1-" + id + "\n日本"
		case 1:
			ct.Country, ct.Region, ct.PostalAddress = "US", "US-NY", id+" Main Street\nAlbany NY 12207\nUSA"
		}
		if i == 4 {
			ct.PostalAddress = ""
		}
		f.contacts.m[id] = ct
		f.accounts = append(f.accounts, store.AffectedAccount{UserID: id, Level: "confirmed", Categories: []string{"email", "postal_address"},
			CategoryLevels: []byte(`{"email":"confirmed","postal_address":"confirmed"}`), Views: 1, Viewers: 1, Locale: ct.Locale, Country: ct.Country, Region: ct.Region})
	}
	return f
}

func (f *fixture) options(t *testing.T) Options { return f.optionsTB(t) }

func (f *fixture) optionsTB(t testing.TB) Options {
	t.Helper()
	ctx := context.Background()
	r, err := notify.NewRenderer(f.c, notify.Options{Date: time.Date(2017, 6, 30, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(f.c, f.run, f.accounts, r, f.contacts, 2)
	if p.Plan, err = pipeline.MakePlan(ctx, f.st, f.c, f.run, f.accounts, false); err != nil {
		t.Fatal(err)
	}
	cp, err := pipeline.PlanChannel(ctx, f.st, f.c, p, store.ChannelLetter)
	if err != nil {
		t.Fatal(err)
	}
	led := f.st.Ledger(store.ChannelLetter)
	if _, err := led.SeedNotices(ctx, f.c.ID, f.run, cp.Seeds); err != nil {
		t.Fatal(err)
	}
	if p.MessageIDs, err = led.NoticeMessageIDs(ctx, f.c.ID, f.run); err != nil {
		t.Fatal(err)
	}
	p.Channel = store.ChannelLetter
	return Options{Store: f.st, Case: f.c, Composer: p, OutDir: f.out, Renderer: letter.NewRenderer(f.fonts), Workers: 2, PerPrintFile: 4}
}

// readCSV returns mailing.csv's rows by user id.
func readCSV(t *testing.T, dir string) map[string][]string {
	t.Helper()
	fh, err := os.Open(filepath.Join(dir, "mailing.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Errorf("header %v", rows[0])
	}
	out := map[string][]string{}
	for _, r := range rows[1:] {
		out[r[4]] = r
	}
	return out
}

// TestWriteBatch: every due letter is written once, in the paper of its
// country, into a batch recorded handed over; the one without an address
// fails with the reason; a second run finds nothing due.
func TestWriteBatch(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 10)
	res, err := WriteBatch(ctx, f.options(t))
	if err != nil {
		t.Fatal(err)
	}
	if res.Batch == nil || res.Letters != 9 || res.Failed != 1 || res.Failures["no postal address on file"] != 1 {
		t.Fatalf("result = %+v", res)
	}
	if res.ByPaper["letter"] != 2 || res.ByPaper["a4"] != 7 {
		t.Errorf("paper = %v, want 2 US Letter (US), 7 A4", res.ByPaper)
	}
	dir := filepath.Join(f.out, f.c.ID, "letters-0001")
	rows := readCSV(t, dir)
	if len(rows) != 9 || rows["1004"] != nil {
		t.Errorf("mailing.csv has %d rows (want 9, not 1004)", len(rows))
	}
	var man struct {
		Letters int `json:"letters"`
		Files   []struct {
			Name, SHA256 string
		} `json:"files"`
	}
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &man); err != nil {
		t.Fatal(err)
	}
	// 9 letters, print files of 4: A4 4+2, Letter 3.
	var prints []string
	for _, fl := range man.Files {
		if strings.HasPrefix(fl.Name, "print-") {
			prints = append(prints, fl.Name)
		}
	}
	sort.Strings(prints)
	if man.Letters != 9 || strings.Join(prints, " ") != "print-a4-001.pdf print-a4-002.pdf print-letter-001.pdf" {
		t.Errorf("manifest: %d letters, print files %v", man.Letters, prints)
	}
	if strings.Contains(string(mb), "Taro") || strings.Contains(string(mb), "Berlin") {
		t.Error("manifest.json holds personal data")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	led := f.st.Ledger(store.ChannelLetter)
	n, _ := led.GetNotice(ctx, f.c.ID, f.run, "1001")
	if n.State != store.NoticeSent || n.MessageSHA256.String == "" {
		t.Errorf("1001's letter: %s, sha %q", n.State, n.MessageSHA256.String)
	}
	if n, _ := led.GetNotice(ctx, f.c.ID, f.run, "1004"); n.State != store.NoticeFailed || n.LastError.String != "no postal address on file" {
		t.Errorf("1004's letter: %s %q", n.State, n.LastError.String)
	}
	res, err = WriteBatch(ctx, f.options(t))
	if err != nil || res.Batch != nil {
		t.Errorf("second run: %+v, %v; want nothing due", res, err)
	}
}

// TestWriteBatchCrash: a batch cut short (the user database goes away
// mid-batch) leaves no directory and every letter pending; the next run
// writes them all once. A batch recorded handed over whose rename was cut
// short is finished by the next run.
func TestWriteBatchCrash(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 25)
	o := f.options(t)
	o.Chunk = 10
	// PlanChannel (always) read no contacts: the first Compose is call 1.
	f.contacts.failAfter = 1
	res, err := WriteBatch(ctx, o)
	if !errors.Is(err, errGone) || res != nil {
		t.Fatalf("WriteBatch = %+v, %v; want the user database's error", res, err)
	}
	if m, _ := filepath.Glob(filepath.Join(f.out, f.c.ID, "*")); len(m) != 0 {
		t.Errorf("left behind: %v", m)
	}
	led := f.st.Ledger(store.ChannelLetter)
	if cnt, _ := led.CountNotices(ctx, f.c.ID, f.run); cnt.Pending != len(f.accounts) {
		t.Errorf("after the failure: %+v, want all %d pending", cnt, len(f.accounts))
	}
	// The process is killed instead: the batch stays writing.
	if _, _, err := f.st.ClaimLetterBatch(ctx, f.c.ID, f.run, filepath.Join(f.out, f.c.ID), "letters-%04d", 5); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(f.out, f.c.ID, "letters-0002.partial"), 0o700); err != nil {
		t.Fatal(err)
	}
	f.contacts.failAfter = 0
	o = f.options(t)
	o.Chunk = 10
	res, err = WriteBatch(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Abandoned) != 1 || res.Abandoned[0].Batch != 2 {
		t.Errorf("abandoned %+v, want batch 2 (batch 1 was abandoned when it failed)", res.Abandoned)
	}
	if res.Batch.Batch != 3 || res.Letters != len(f.accounts)-1 {
		t.Errorf("result: batch %d, %d letters; want batch 3 with %d", res.Batch.Batch, res.Letters, len(f.accounts)-1)
	}
	if m, _ := filepath.Glob(filepath.Join(f.out, f.c.ID, "*.partial")); len(m) != 0 {
		t.Errorf("partial directories left: %v", m)
	}
	if rows := readCSV(t, res.Dir); len(rows) != len(f.accounts)-1 {
		t.Errorf("mailing.csv: %d rows", len(rows))
	}
	// Handed over, not renamed.
	if err := os.Rename(res.Dir, res.Dir+".partial"); err != nil {
		t.Fatal(err)
	}
	res2, err := WriteBatch(ctx, f.options(t))
	if err != nil || res2.Batch != nil || len(res2.Finished) != 1 || res2.Finished[0] != res.Dir {
		t.Fatalf("after the cut rename: %+v, %v", res2, err)
	}
	if _, err := os.Stat(filepath.Join(res.Dir, "mailing.csv")); err != nil {
		t.Error(err)
	}
}

// BenchmarkWriteBatch: notify letters' whole batch (claim, user records,
// render, each letter's PDF and the print PDFs, CSV, manifest, hand-over)
// for 600 people, a third each in Japanese, US English and German.
func BenchmarkWriteBatch(b *testing.B) {
	const n = 600
	var letters int
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		f := newFixtureTB(b, n)
		o := f.optionsTB(b)
		b.StartTimer()
		start := time.Now()
		res, err := WriteBatch(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		letters += res.Letters
	}
	b.ReportMetric(float64(letters)/elapsed.Seconds(), "letters/s")
}

// TestWriteBatchAcrossRuns: a letter handed over under one run is never
// written again for another run of the case (a revised count), and the
// command says so.
func TestWriteBatchAcrossRuns(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 6)
	o1 := f.options(t) // run 1's letters seeded, not written
	run1 := f.run
	run2, err := f.st.NewRun(ctx, f.c.ID, "y", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	f.run = run2
	res, err := WriteBatch(ctx, f.options(t))
	if err != nil || res.Letters != 5 {
		t.Fatalf("run 2: %+v, %v; want 5 letters", res, err)
	}
	res, err = WriteBatch(ctx, o1)
	if err != nil {
		t.Fatal(err)
	}
	// Only the letter that cannot be written (no address) is tried again.
	if res.Letters != 0 || res.Failed != 1 || res.SentInOtherRun != 5 {
		t.Errorf("run 1 after run 2: %d letters, %d failed, %d recorded as sent elsewhere; want 0, 1, 5", res.Letters, res.Failed, res.SentInOtherRun)
	}
	led := f.st.Ledger(store.ChannelLetter)
	if n, _ := led.GetNotice(ctx, f.c.ID, run1, "1000"); n.State != store.NoticeSent || !strings.HasPrefix(n.SMTPReply.String, "already sent in run") {
		t.Errorf("run 1's letter to 1000: %s %q", n.State, n.SMTPReply.String)
	}
}
