package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/progress"
	"github.com/breachctl/breachctl/internal/textsafe"
	"github.com/breachctl/breachctl/notify/letter"
	"github.com/breachctl/breachctl/notify/mailing"
	"github.com/breachctl/breachctl/notify/pipeline"
)

// seedChannel adds to a channel's ledger the people the case's policy
// makes due on it now, renders under that ledger's Message-IDs, and says
// on standard error what it added and who waits for an earlier channel.
// The policy's other channels get their due rows too (pending): a letter
// the law requires is in the ledger, and keeps the notice duties open,
// from the first notify command on.
func seedChannel(ctx context.Context, d *deps, st *store.Store, c *incident.Case, p *pipeline.Composer, channel string, corrections bool) error {
	if err := seedOthers(ctx, d, st, c, p, channel, corrections); err != nil {
		return err
	}
	cp, err := pipeline.PlanChannel(ctx, st, c, p, channel)
	if err != nil {
		return err
	}
	led := st.Ledger(channel)
	seeded, err := led.SeedNotices(ctx, c.ID, p.Run, cp.Seeds)
	if err != nil {
		return fmt.Errorf("seed the %s ledger: %w", channel, err)
	}
	// Render under the ledger's Message-IDs (they stay what they were
	// seeded with, even if notify.from changed since).
	if p.MessageIDs, err = led.NoticeMessageIDs(ctx, c.ID, p.Run); err != nil {
		return err
	}
	p.Channel = channel
	w := d.io.Err
	if seeded.Added > 0 {
		fmt.Fprintf(w, "ledger: %d %s notices added for run %d", seeded.Added, channel, p.Run)
		if seeded.SentEarlier > 0 {
			fmt.Fprintf(w, " (%d of them already sent in an earlier run: not sent again)", seeded.SentEarlier)
		}
		if cp.Required > 0 {
			fmt.Fprintf(w, " (%d because the law asks for a letter: US residents and people whose health data was exposed, without e-mail consent)", cp.Required)
		}
		fmt.Fprintln(w)
	}
	if cp.NotDue > 0 {
		fmt.Fprintf(w, "  %d people are not due on %s under notify.channels (another channel reaches them)\n", cp.NotDue, channel)
	}
	if n := len(cp.Waiting); n > 0 {
		fmt.Fprintf(w, "  %d people wait for an earlier channel of notify.channels to end before %s is due for them (run that channel first; bounces: notify bounces)\n", n, channel)
	}
	return nil
}

// seedOthers seeds the due rows of the policy's channels other than the
// one being worked, each planned from its own notices.
func seedOthers(ctx context.Context, d *deps, st *store.Store, c *incident.Case, p *pipeline.Composer, channel string, corrections bool) error {
	for _, pol := range c.Policies() {
		if pol.Channel == channel {
			continue
		}
		plan, err := pipeline.MakeChannelPlan(ctx, st, c, p.Run, p.Accounts(), corrections, pol.Channel)
		if err != nil {
			return err
		}
		q := *p
		q.Plan = plan
		cp, err := pipeline.PlanChannel(ctx, st, c, &q, pol.Channel)
		if err != nil {
			return err
		}
		seeded, err := st.Ledger(pol.Channel).SeedNotices(ctx, c.ID, p.Run, cp.Seeds)
		if err != nil {
			return fmt.Errorf("seed the %s ledger: %w", pol.Channel, err)
		}
		if n := seeded.Added - seeded.SentEarlier; n > 0 {
			how := "notify letters writes them"
			if pol.Channel == incident.ChannelWebhook {
				how = "notify send --channel webhook sends them"
			} else if pol.Channel == incident.ChannelEmail {
				how = "notify send sends them"
			}
			fmt.Fprintf(d.io.Err, "ledger: %d %s notices due as well (%s)\n", n, pol.Channel, how)
		}
	}
	return nil
}

// webhookSecret reads the in-app channel's signing secret.
func webhookSecret(d *deps, file string) ([]byte, error) {
	var secret []byte
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--secret-file: %w", err)
		}
		secret = []byte(strings.TrimRight(string(b), "\r\n"))
	} else {
		secret = []byte(d.env("BREACHCTL_WEBHOOK_SECRET"))
	}
	switch {
	case len(secret) == 0:
		return nil, usageErrorf("notify send --channel webhook needs the signing secret in BREACHCTL_WEBHOOK_SECRET or --secret-file FILE")
	case len(secret) < 32:
		return nil, usageErrorf("the webhook signing secret has %d bytes: use at least 32 (e.g. openssl rand -hex 32)", len(secret))
	}
	return secret, nil
}

type notifyLettersOptions struct {
	noticeFlags
	out   string
	paper string
	fonts string
	limit int
}

func newNotifyLettersCmd(d *deps) *cobra.Command {
	var o notifyLettersOptions
	cmd := &cobra.Command{
		Use:   "letters -f incident.yaml --out DIR",
		Short: "Write the due letters as a batch for a mailing house (PDF per person, print PDFs, CSV)",
		Long: `Write the run's letters (the notices notify.channels sends by post) as one
batch, DIR/<case id>/letters-NNNN/:

  00001.pdf ...          one print-ready PDF per person (A4 or US Letter, the
                         address placed for a window envelope, fonts embedded),
                         the same content and sections as the e-mail, in their
                         language
  print-a4-001.pdf ...   the batch's letters in one PDF per paper size (500 a
                         file), each letter starting on an odd page for duplex
  mailing.csv            ref, file, paper, pages, user_id, message_id, name and
                         address lines: for the mailing house (personal data:
                         mode 0600, like every file here)
  manifest.json          the batch, its counts and every file's SHA-256

Who is due: the letter entry of notify.channels (always; required: US
residents and people whose health data was exposed, unless users_query's
email_consent is true; fallback: their e-mail failed, bounced, or they have no
address). users_query must return postal_address (the lines of the address,
newline separated, without the name).

Exactly once: the letters are claimed into the batch in the ledger, written
into letters-NNNN.partial, recorded handed over (state sent) in one
transaction, and only then renamed. A batch a crash or Ctrl-C left
.partial was never complete: the next run puts its letters back and removes
it. Give the finished directory to the mailing house; letters the post
returns: notify mark-returned.`,
		Example: "  breachctl notify letters -f incident.yaml --out letters/\n  breachctl notify letters -f incident.yaml --out letters/ --paper a4 --fonts /opt/fonts",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotifyLetters(cmd.Context(), d, o)
		},
	}
	o.register(cmd, 2)
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "output directory")
	f.StringVar(&o.paper, "paper", "", "auto (US Letter for the US and Canada, A4 elsewhere), a4 or letter (default notify.channels' paper, then auto)")
	f.StringVar(&o.fonts, "fonts", "", "directory holding DejaVuSans.ttf, DejaVuSans-Bold.ttf, DroidSansFallbackFull.ttf and NanumGothic.ttf (default: Debian's font paths)")
	f.IntVar(&o.limit, "limit", 0, "at most N letters in this batch (0: all due)")
	return cmd
}

func runNotifyLetters(ctx context.Context, d *deps, o notifyLettersOptions) error {
	if o.out == "" {
		return usageErrorf("notify letters needs --out DIR")
	}
	if o.limit < 0 {
		return usageErrorf("--limit cannot be negative")
	}
	lc, err := d.letterComposer(ctx, o.noticeFlags, o.fonts, &o.paper)
	if err != nil {
		return fmt.Errorf("notify letters: %w", err)
	}
	defer lc.done()
	c, st, p, fonts := lc.c, lc.st, lc.p, lc.fonts
	if err := seedChannel(ctx, d, st, c, p, incident.ChannelLetter, o.corrections); err != nil {
		return fmt.Errorf("notify letters: %w", err)
	}
	var n atomic.Int64
	bar := progress.Start(d.io.Err, d.io.ErrIsTerminal, 0, "letters", false, &n)
	res, err := mailing.WriteBatch(ctx, mailing.Options{Store: st, Case: c, Composer: p, OutDir: o.out, Paper: o.paper,
		Renderer: letter.NewRenderer(fonts), Workers: o.workers, Limit: o.limit, Logger: d.logger(), Done: &n})
	bar.Stop()
	if res != nil {
		printLetters(d, res)
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("notify letters stopped: the batch was not handed over; its letters are pending again: %w", err)
		}
		return fmt.Errorf("notify letters: %w", err)
	}
	if res.Failed > 0 {
		return fmt.Errorf("notify letters: %d letters could not be written (reasons above; notify status lists them)", res.Failed)
	}
	return nil
}

func printLetters(d *deps, r *mailing.Result) {
	w := d.io.Out
	for _, b := range r.Abandoned {
		fmt.Fprintf(w, "batch %d (%s) was left incomplete by an earlier run: its letters were put back and its .partial directory removed\n", b.Batch, b.Name)
	}
	for _, dir := range r.Finished {
		fmt.Fprintf(w, "finished %s (recorded handed over; its rename had been cut short)\n", textsafe.Term(dir))
	}
	for _, dir := range r.Gone {
		fmt.Fprintf(w, "note: %s is recorded handed over but is not there (moved, deleted, or written on another machine)\n", textsafe.Term(dir))
	}
	if r.SentInOtherRun > 0 {
		fmt.Fprintf(w, "%d letters were handed over under another run of this case: recorded so, not written again\n", r.SentInOtherRun)
	}
	if r.Batch == nil {
		fmt.Fprintln(w, "no letter is due")
		return
	}
	fmt.Fprintf(w, "batch %d: %d letters, %d pages in %s (%.0f letters/s)\n", r.Batch.Batch, r.Letters, r.Pages,
		r.Elapsed.Round(1e6), float64(r.Letters)/max(r.Elapsed.Seconds(), 1e-9))
	printLetterCounts(w, r, "failed")
	if r.Dir != "" {
		fmt.Fprintf(w, "hand over: %s (mailing.csv and the PDFs hold names and addresses)\n", textsafe.Term(r.Dir))
	}
}

// letterComposer is what notify letters and its preview share: the fonts,
// the case's letter policy (its paper when none is given) and a composer
// planned for the letter channel.
type letterComposer struct {
	c     *incident.Case
	st    *store.Store
	p     *pipeline.Composer
	fonts *letter.Fonts
	done  func()
}

func (d *deps) letterComposer(ctx context.Context, n noticeFlags, fontsDir string, paper *string) (*letterComposer, error) {
	fonts, err := letter.LoadFonts(fontsDir)
	if err != nil {
		return nil, err
	}
	n.channel = incident.ChannelLetter
	c, st, p, done, err := d.composer(ctx, n)
	if err != nil {
		return nil, err
	}
	pol, ok := c.Policy(incident.ChannelLetter)
	if !ok {
		done()
		return nil, fmt.Errorf("notify.channels has no letter channel: add one (channel: letter, when: [required, fallback], return_address: [...])")
	}
	if *paper == "" {
		*paper = pol.Paper
	}
	return &letterComposer{c: c, st: st, p: p, fonts: fonts, done: done}, nil
}

// printLetterCounts says what a batch or a preview wrote, beyond its
// first line.
func printLetterCounts(w io.Writer, r *mailing.Result, failedWhat string) {
	fmt.Fprintf(w, "  paper          %s\n", countList(r.ByPaper))
	if r.Missing > 0 {
		fmt.Fprintf(w, "  WARNING %d characters no embedded font has were printed as a replacement: check the letters before handing them over\n", r.Missing)
	}
	if r.Failed > 0 {
		fmt.Fprintf(w, "  %-14s %d letters cannot be written:\n", failedWhat, r.Failed)
		for _, kv := range sortedKV(r.Failures) {
			fmt.Fprintf(w, "    %6d  %s\n", kv.n, textsafe.Term(kv.k))
		}
	}
}

// runLetterPreview writes the letters notify letters would write now, for
// review, recording nothing.
func runLetterPreview(ctx context.Context, d *deps, o notifyRenderOptions) error {
	lc, err := d.letterComposer(ctx, o.noticeFlags, o.fonts, &o.paper)
	if err != nil {
		return fmt.Errorf("notify render: %w", err)
	}
	defer lc.done()
	c, st, p, fonts := lc.c, lc.st, lc.p, lc.fonts
	cp, err := pipeline.PlanChannel(ctx, st, c, p, incident.ChannelLetter)
	if err != nil {
		return fmt.Errorf("notify render: %w", err)
	}
	if p.MessageIDs, err = st.Ledger(incident.ChannelLetter).NoticeMessageIDs(ctx, c.ID, p.Run); err != nil {
		return err
	}
	p.Channel = incident.ChannelLetter
	// Letters already written (or failed) in this run are not written
	// again: not in the preview either.
	rows, err := st.Ledger(incident.ChannelLetter).NoticeKinds(ctx, c.ID, p.Run)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(cp.Seeds))
	for _, sd := range cp.Seeds {
		if r, ok := rows[sd.UserID]; ok && r.State != store.NoticePending && r.State != store.NoticeUncertain {
			continue
		}
		if pl := p.Plan.ByUser[sd.UserID]; pl != nil && pl.Kind != "" {
			ids = append(ids, sd.UserID)
		}
	}
	var n atomic.Int64
	bar := progress.Start(d.io.Err, d.io.ErrIsTerminal, int64(len(ids)), "letters", false, &n)
	res, err := mailing.Preview(ctx, mailing.Options{Case: c, Composer: p, OutDir: o.out, Paper: o.paper,
		Renderer: letter.NewRenderer(fonts), Workers: o.workers, Logger: d.logger(), Done: &n}, ids)
	bar.Stop()
	if err != nil {
		return fmt.Errorf("notify render: %w", err)
	}
	w := d.io.Out
	fmt.Fprintf(w, "preview: %d letters, %d pages in %s (nothing recorded: notify letters writes them for the mailing house)\n",
		res.Letters, res.Pages, textsafe.Term(res.Dir))
	printLetterCounts(w, res, "rejected")
	if len(cp.Waiting) > 0 {
		fmt.Fprintf(w, "  waiting        %d people wait for an earlier channel: not in this preview\n", len(cp.Waiting))
	}
	return nil
}

type notifyReturnedOptions struct {
	caseFile string
	run      int
	users    []string
	csvFile  string
}

func newNotifyMarkReturnedCmd(d *deps) *cobra.Command {
	var o notifyReturnedOptions
	cmd := &cobra.Command{
		Use:   "mark-returned -f incident.yaml (--user ID ... | --csv FILE)",
		Short: "Record letters the post returned: the next channel becomes due",
		Long: `Record that letters handed over to the mailing house came back undelivered
(state returned). They did not reach their people: the next channel of
notify.channels, if any, becomes due for them.

Name the people by user id (--user, repeatable), or give the mailing house's
list of returned letters as a CSV with a user_id column (mailing.csv's rows,
for instance). A user id with no handed-over letter in the run is listed
and nothing is recorded for it; marking one again changes nothing.`,
		Example: "  breachctl notify mark-returned -f incident.yaml --user 1042 --user 2077\n  breachctl notify mark-returned -f incident.yaml --csv returned.csv",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotifyMarkReturned(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.IntVar(&o.run, "run", 0, "the run whose letters came back (default the latest)")
	f.StringArrayVar(&o.users, "user", nil, "user id of a returned letter (repeatable)")
	f.StringVar(&o.csvFile, "csv", "", "CSV of returned letters with a user_id column")
	return cmd
}

func runNotifyMarkReturned(ctx context.Context, d *deps, o notifyReturnedOptions) error {
	if (len(o.users) == 0) == (o.csvFile == "") {
		return usageErrorf("notify mark-returned needs --user ID (repeatable) or --csv FILE (one of them)")
	}
	ids, what := o.users, "user id"
	if o.csvFile != "" {
		var err error
		if ids, what, err = returnedIDs(o.csvFile); err != nil {
			return fmt.Errorf("notify mark-returned: %w", err)
		}
	}
	c, st, run, err := d.openRun(ctx, o.caseFile, o.run)
	if err != nil {
		return err
	}
	defer st.Close()
	var changed, unmatched []string
	where := fmt.Sprintf("of run %d", run.Run)
	if what == "message_id" {
		// Named exactly: whichever run handed the letter over.
		changed, unmatched, err = st.MarkLettersReturned(ctx, c.ID, ids)
		where = "(by their Message-ID)"
	} else {
		changed, unmatched, err = st.MarkUnreached(ctx, c.ID, run.Run, store.ChannelLetter, ids)
	}
	if err != nil {
		return fmt.Errorf("notify mark-returned: %w", err)
	}
	fmt.Fprintf(d.io.Out, "%d letters %s recorded returned", len(changed), where)
	ps := c.Policies()
	for i, p := range ps {
		if p.Channel == incident.ChannelLetter && i+1 < len(ps) && len(changed) > 0 {
			fmt.Fprintf(d.io.Out, ": the next channel (%s) is due for them where notify.channels says so", ps[i+1].Channel)
		}
	}
	fmt.Fprintln(d.io.Out)
	if len(unmatched) > 0 {
		fmt.Fprintf(d.io.Out, "%d %ss match no handed-over letter %s (nothing recorded): %s\n", len(unmatched), what, where,
			strings.Join(textsafe.Terms(unmatched), " "))
		return fmt.Errorf("notify mark-returned: %d %ss matched no handed-over letter", len(unmatched), what)
	}
	return nil
}

// returnedIDs reads a CSV of returned letters: its message_id column when
// it has one (mailing.csv's rows name the letter exactly), else its
// user_id column. what says which.
func returnedIDs(path string) (ids []string, what string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	col := -1
	for _, want := range []string{"message_id", "user_id"} {
		for i, h := range head {
			if col < 0 && strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), want) {
				col, what = i, want
			}
		}
	}
	if col < 0 {
		return nil, "", fmt.Errorf("%s line 1: no message_id or user_id column (the header has %d columns); give the returned rows of mailing.csv", path, len(head))
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		if col >= len(rec) || strings.TrimSpace(rec[col]) == "" {
			return nil, "", fmt.Errorf("%s line %d: no %s", path, line, what)
		}
		id := strings.TrimSpace(rec[col])
		// mailing.csv guards a field a spreadsheet would read as a
		// formula with a leading quote: undo it.
		if len(id) > 1 && id[0] == '\'' && strings.ContainsRune("=+-@\t\r", rune(id[1])) {
			id = id[1:]
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, "", fmt.Errorf("%s: no returned letters listed", path)
	}
	return ids, what, nil
}
