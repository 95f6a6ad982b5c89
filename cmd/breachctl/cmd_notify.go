package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/progress"
	"github.com/breachctl/breachctl/internal/textsafe"
	"github.com/breachctl/breachctl/notify"
	"github.com/breachctl/breachctl/notify/deliver"
	"github.com/breachctl/breachctl/notify/pipeline"
)

func newNotifyCmd(d *deps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Render and deliver one apology and disclosure notice per affected person",
		Long: `Notices: one apology and disclosure per affected person, in their language,
saying exactly which of their data was exposed (or may have been), when (in
their time zone), what the company is doing and what they can do, with the
sections their jurisdiction requires (California §1798.82, GDPR Art. 34,
APPI Rules Art. 10, HIPAA).

  breachctl notify render -f incident.yaml --out DIR   write every notice to DIR, send nothing
  breachctl notify send   -f incident.yaml --smtp URL  deliver from the ledger; resumable
  breachctl notify status -f incident.yaml             what the ledger says
  breachctl notify bounces -f incident.yaml --mbox FILE record the bounces (DSNs) of sent notices
  breachctl notify send -f incident.yaml --channel webhook --url URL   in-app messages
  breachctl notify letters -f incident.yaml --out DIR    letters for a mailing house (PDF, CSV)
  breachctl notify mark-returned -f incident.yaml --user ID            letters the post returned

Which channels reach whom is the case file's notify.channels policy (e-mail
first, letters where the law requires them or nothing else reached the
person, in-app messages when configured); each channel has its own ledger
rows with the same exactly-once guarantees.

Names and addresses are read from the user database (users_query) only when
a notice is made; the case database keeps user ids.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newNotifyRenderCmd(d), newNotifySendCmd(d), newNotifyStatusCmd(d), newNotifyBouncesCmd(d),
		newNotifyLettersCmd(d), newNotifyMarkReturnedCmd(d))
	return cmd
}

// noticeFlags are shared by render and send.
type noticeFlags struct {
	corrections bool
	caseFile    string
	run         int
	templates   string
	date        string
	workers     int
	// channel is the ledger channel the notices are planned for (e-mail
	// when empty): each channel is planned from its own notices.
	channel string
}

func (n *noticeFlags) register(cmd *cobra.Command, workers int) {
	f := cmd.Flags()
	f.StringVarP(&n.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.IntVar(&n.run, "run", 0, "notify the affected accounts of this run instead of the latest")
	f.StringVar(&n.templates, "templates", "", "directory of notice templates overriding the built-in ones (same file names)")
	f.StringVar(&n.date, "date", "", "the notice date and Date header (RFC 3339; default now)")
	f.IntVar(&n.workers, "workers", workers, "parallel workers")
	f.BoolVar(&n.corrections, "corrections", false, "also write a correction notice to people sent a notice under an earlier run who are no longer affected in this one (never without this flag)")
}

// composer prepares the notices of a run. The caller closes the store and
// the user database with done.
func (d *deps) composer(ctx context.Context, n noticeFlags) (*incident.Case, *store.Store, *pipeline.Composer, func(), error) {
	date := d.now()
	if n.date != "" {
		t, err := time.Parse(time.RFC3339, n.date)
		if err != nil {
			return nil, nil, nil, nil, usageErrorf("--date %q: give an RFC 3339 time, e.g. 2017-06-23T10:00:00+09:00", n.date)
		}
		date = t
	}
	if n.workers <= 0 {
		return nil, nil, nil, nil, usageErrorf("--workers must be positive")
	}
	c, st, run, err := d.openRun(ctx, n.caseFile, n.run)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	r, err := notify.NewRenderer(c, notify.Options{TemplatesDir: n.templates, Date: date})
	if err != nil {
		st.Close()
		return nil, nil, nil, nil, err
	}
	accounts, err := st.ListAffected(ctx, c.ID, run.Run)
	if err != nil {
		st.Close()
		return nil, nil, nil, nil, err
	}
	udb, err := d.connectUsers(ctx, c.Users.DatabaseURL)
	if err != nil {
		st.Close()
		return nil, nil, nil, nil, fmt.Errorf("user database %s: %w", store.Redact(c.Users.DatabaseURL), err)
	}
	res := &correlate.DBResolver{DB: udb, SessionsQuery: c.Users.SessionsQuery, UsersQuery: c.Users.UsersQuery,
		AllowPrivilegedRole: c.Users.AllowPrivilegedRole}
	p := pipeline.New(c, run.Run, accounts, r, res, n.workers)
	// Against what the case's other runs sent: first notices, updates for
	// people whose exposure grew, nothing for people told all this run
	// knows, corrections only when asked.
	channel := n.channel
	if channel == "" {
		channel = store.ChannelEmail
	}
	if p.Plan, err = pipeline.MakeChannelPlan(ctx, st, c, run.Run, accounts, n.corrections, channel); err != nil {
		udb.Close()
		st.Close()
		return nil, nil, nil, nil, err
	}
	printPlan(d, c, p.Plan, n.corrections)
	return c, st, p, func() { udb.Close(); st.Close() }, nil
}

type notifyRenderOptions struct {
	noticeFlags
	out          string
	renderOf     string
	paper, fonts string
}

func newNotifyRenderCmd(d *deps) *cobra.Command {
	var o notifyRenderOptions
	cmd := &cobra.Command{
		Use:   "render -f incident.yaml --out DIR",
		Short: "Render every notice to DIR; nothing is sent",
		Long: `Render the notice of every affected person of the run (the latest by
default) to DIR/<case id>/<user id>.eml (mode 0600, directories 0700), with
DIR/<case id>/manifest.jsonl: one line per person with user_id, locale,
jurisdictions, message_id, sha256 and path, or "rejected" and the reason when
the person cannot be written to (no record, an invalid address). A user id
that is not a plain file name ([A-Za-z0-9._-], no dot first, up to 200 bytes)
gets an escaped name starting with "%": the manifest's path says which.

manifest.jsonl is written last, and only when every notice is: an interrupted
render leaves none (run it again). A render removes the temporary files a
killed one left behind.

Messages are multipart/alternative (text and HTML), UTF-8, with a Message-ID
fixed per (case, person): rendering again gives identical files except the
Date header, and identical files with --date.`,
		Example: "  breachctl notify render -f incident.yaml --out outbox\n  breachctl notify render -f incident.yaml --out outbox --templates legal-wording/ --date 2017-06-23T10:00:00+09:00",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotifyRender(cmd.Context(), d, o)
		},
	}
	o.register(cmd, 2)
	cmd.Flags().StringVar(&o.out, "out", "", "output directory")
	cmd.Flags().StringVar(&o.renderOf, "channel", "email", "email (.eml files) or letter (the PDFs notify letters would write now, into DIR/<case id>/letters-preview; nothing is recorded)")
	cmd.Flags().StringVar(&o.paper, "paper", "", "letter: auto, a4 or letter (default notify.channels' paper)")
	cmd.Flags().StringVar(&o.fonts, "fonts", "", "letter: directory of the fonts (default: Debian's font paths)")
	return cmd
}

func runNotifyRender(ctx context.Context, d *deps, o notifyRenderOptions) error {
	if o.out == "" {
		return usageErrorf("notify render needs --out DIR")
	}
	switch o.renderOf {
	case "", store.ChannelEmail:
		if o.paper != "" || o.fonts != "" {
			return usageErrorf("--paper and --fonts are for --channel letter")
		}
	case store.ChannelLetter:
		return runLetterPreview(ctx, d, o)
	default:
		return usageErrorf("--channel %q: notify render writes email or letter (in-app messages are the e-mail's text and HTML)", o.renderOf)
	}
	c, _, p, done, err := d.composer(ctx, o.noticeFlags)
	if err != nil {
		return err
	}
	defer done()
	box, err := notify.NewOutbox(o.out, c.ID)
	if err != nil {
		return err
	}
	var n atomic.Int64
	bar := progress.Start(d.io.Err, d.io.ErrIsTerminal, int64(len(p.Plan.Order)), "rendering", false, &n)
	start := time.Now()
	stats, err := p.Render(ctx, box, &n)
	bar.Stop()
	if err != nil {
		// No manifest.jsonl until a render completes: the notices written
		// so far stay, and the next render rewrites them.
		_ = box.Abort()
		return fmt.Errorf("notify render: %w (%s has no manifest.jsonl until a render completes: run it again)",
			err, filepath.Join(o.out, c.ID))
	}
	pruned, err := box.Prune()
	if err != nil {
		_ = box.Abort()
		return fmt.Errorf("notify render: %w", err)
	}
	if err := box.Close(); err != nil {
		return fmt.Errorf("notify render: %w", err)
	}
	el := time.Since(start)
	w := d.io.Out
	fmt.Fprintf(w, "rendered %d notices to %s in %s (%.0f/s)\n", stats.Rendered, filepath.Join(o.out, c.ID),
		el.Round(time.Millisecond), float64(stats.Rendered+stats.Rejected)/max(el.Seconds(), 1e-9))
	fmt.Fprintf(w, "  languages      %s\n", countList(stats.ByLocale))
	fmt.Fprintf(w, "  jurisdictions  %s\n", countList(stats.ByJurisdiction))
	for _, l := range foreignNarrative(c, stats.ByLocale) {
		fmt.Fprintf(w, "  WARNING %d notices in %s carry the case's narrative (cause, measures, consequences) as written at the top level, not in %s: add notify.narrative.%s to the case file\n",
			stats.ByLocale[l], l, l, l)
	}
	if stats.Rejected > 0 {
		fmt.Fprintf(w, "  rejected       %d people cannot be written to (see manifest.jsonl):\n", stats.Rejected)
		for _, kv := range sortedKV(stats.Rejections) {
			fmt.Fprintf(w, "    %6d  %s\n", kv.n, textsafe.Term(kv.k))
		}
	}
	if len(pruned) > 0 {
		fmt.Fprintf(w, "  removed        %d notices of an earlier render for people no longer affected or now rejected\n", len(pruned))
	}
	fmt.Fprintf(w, "manifest: %s\n", filepath.Join(o.out, c.ID, "manifest.jsonl"))
	return nil
}

type countKV struct {
	k string
	n int
}

func sortedKV(m map[string]int) []countKV {
	out := make([]countKV, 0, len(m))
	for k, n := range m {
		out = append(out, countKV{k, n})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].n != out[j].n {
			return out[i].n > out[j].n
		}
		return out[i].k < out[j].k
	})
	return out
}

func countList(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, kv := range sortedKV(m) {
		parts = append(parts, fmt.Sprintf("%s %d", textsafe.Term(kv.k), kv.n)) // locales come from user records
	}
	return strings.Join(parts, ", ")
}

type notifySendOptions struct {
	noticeFlags
	smtp        string
	startTLS    string
	rate        float64
	limit       int
	uncertain   string
	maxAttempts int
	backoff     time.Duration
	timeout     time.Duration
	retryFailed bool
	channel     string
	url         string
	secretFile  string
}

const notifySendLong = `Deliver the run's notices over SMTP from the delivery ledger (the notices
table of the case database): one row per person with state pending →
sending → sent | failed | uncertain. A row's state is committed before its
SMTP transaction starts and after it ends, so the ledger, not a batch, is
the resume point.

  - workers each keep their own SMTP connection (reconnecting on a broken one
    and retrying that message); --rate limits messages per second across them;
  - 4xx replies are retried with exponential backoff up to --max-attempts,
    then failed; 5xx replies fail at once with the server's reply;
  - a connection lost after the message was handed over, before the server
    answered, makes the row "uncertain": that try is an attempt, the row waits
    its backoff and is not sent again by this send; the next send resends it
    (same Message-ID), and at --max-attempts it fails with delivery unknown;
  - Ctrl-C stops cleanly: messages in flight finish, none are left "sending";
  - run it again to resume: pending and retryable rows are picked up. A row
    left "sending" by a crash (kill -9) is "uncertain": by default it is resent
    with the same Message-ID (at most --workers messages per crash; the run
    says how many); --uncertain=skip holds them for review instead.

Messages are rendered again at send time from the same templates and user
records as 'notify render' (each under the Message-ID the ledger holds): pass
the same --templates as the render that was reviewed.

The SMTP URL is smtp://[user:pass@]host:port (or smtps:// for implicit TLS);
credentials may instead come from BREACHCTL_SMTP_USERNAME and
BREACHCTL_SMTP_PASSWORD and are never logged. The URL may also come from
BREACHCTL_SMTP_URL. STARTTLS is required by default except towards loopback.

--channel webhook sends in-app messages instead, from the ledger's webhook
rows with the same guarantees: each notice is one POST of JSON (message_id,
user_id, locale, kind, refers_to, subject, text, html, date) to --url (or
notify.channels' url, or BREACHCTL_WEBHOOK_URL), with an Idempotency-Key
header equal to the message id (without angle brackets) and a
Breachctl-Signature header: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">
keyed with the secret from BREACHCTL_WEBHOOK_SECRET or --secret-file (at
least 32 bytes). 2xx is delivered; 408, 425, 429 and 5xx are retried with
backoff (Retry-After honoured); 401, 403 and redirects stop the send; other
4xx fail the notice; a request sent whose answer never came is uncertain and
is resent with the same Idempotency-Key, so the receiver must deduplicate
by it.

Which people get a notice on a channel is the case file's notify.channels
policy: e-mail to everyone when it has none. A fallback channel is due for a
person once every earlier channel failed, bounced or was returned; until
then they are counted as waiting.`

func newNotifySendCmd(d *deps) *cobra.Command {
	var o notifySendOptions
	cmd := &cobra.Command{
		Use:   "send -f incident.yaml --smtp URL",
		Short: "Deliver the notices over SMTP from the ledger; resumable",
		Long:  notifySendLong,
		Example: `  breachctl notify send -f incident.yaml --smtp smtp://127.0.0.1:1025
  BREACHCTL_SMTP_PASSWORD=... breachctl notify send -f incident.yaml --smtp smtp://notices@mail.example.jp:587 --rate 50`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotifySend(cmd.Context(), d, o)
		},
	}
	o.register(cmd, 4)
	f := cmd.Flags()
	f.StringVar(&o.smtp, "smtp", "", "SMTP server URL (default $BREACHCTL_SMTP_URL)")
	f.StringVar(&o.startTLS, "starttls", "", "required, opportunistic or off (default required, opportunistic towards loopback)")
	f.Float64Var(&o.rate, "rate", 0, "at most N messages per second across all workers (0: no limit)")
	f.IntVar(&o.limit, "limit", 0, "send at most N messages in this run (0: all)")
	f.StringVar(&o.uncertain, "uncertain", "resend", "what to do with messages a crash left uncertain: resend (same Message-ID) or skip")
	f.IntVar(&o.maxAttempts, "max-attempts", 5, "attempts per message (across sends) before a temporary failure or an uncertain try becomes failed")
	f.DurationVar(&o.backoff, "backoff", 30*time.Second, "first retry delay after a temporary failure or an uncertain try (doubles each attempt)")
	f.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up on an SMTP step (connect, command, message) after this long")
	f.BoolVar(&o.retryFailed, "retry-failed", false, "put the failed notices back to pending first (after fixing what made them fail)")
	f.StringVar(&o.channel, "channel", "email", "email (over SMTP) or webhook (in-app messages over HTTPS); letters: notify letters")
	f.StringVar(&o.url, "url", "", "webhook: the endpoint to POST in-app messages to (default notify.channels' url, then $BREACHCTL_WEBHOOK_URL)")
	f.StringVar(&o.secretFile, "secret-file", "", "webhook: a file holding the signing secret (default $BREACHCTL_WEBHOOK_SECRET)")
	return cmd
}

func runNotifySend(ctx context.Context, d *deps, o notifySendOptions) error {
	var secret []byte
	if o.channel == "" {
		o.channel = store.ChannelEmail
	}
	switch o.channel {
	case store.ChannelEmail:
		if o.url != "" || o.secretFile != "" {
			return usageErrorf("--url and --secret-file are for --channel webhook")
		}
		if o.smtp == "" {
			o.smtp = d.env("BREACHCTL_SMTP_URL")
		}
		if o.smtp == "" {
			return usageErrorf("notify send needs --smtp smtp://host:port (or BREACHCTL_SMTP_URL)")
		}
		if u, err := url.Parse(o.smtp); err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
			return usageErrorf("--smtp: want smtp://[user:pass@]host:port or smtps://[user:pass@]host:port (the value is not shown: it may hold a password)")
		}
	case store.ChannelWebhook:
		if o.smtp != "" || o.startTLS != "" {
			return usageErrorf("--smtp and --starttls are for --channel email")
		}
		var err error
		if secret, err = webhookSecret(d, o.secretFile); err != nil {
			return err
		}
	case store.ChannelLetter:
		return usageErrorf("--channel letter: letters are written, not sent: use notify letters --out DIR")
	default:
		return usageErrorf("--channel %q: use email or webhook", o.channel)
	}
	if o.uncertain != "resend" && o.uncertain != "skip" {
		return usageErrorf("--uncertain %q: use resend or skip", o.uncertain)
	}
	switch o.startTLS {
	case "", "required", "opportunistic", "off":
	default:
		return usageErrorf("--starttls %q: use required, opportunistic or off", o.startTLS)
	}
	switch {
	case o.rate < 0 || o.limit < 0:
		return usageErrorf("--rate and --limit cannot be negative")
	case o.workers > maxSendWorkers:
		return usageErrorf("--workers %d: at most %d (each worker holds an SMTP and a database connection)", o.workers, maxSendWorkers)
	case o.maxAttempts < 1:
		return usageErrorf("--max-attempts must be at least 1")
	}
	o.noticeFlags.channel = o.channel
	c, st, p, done, err := d.composer(ctx, o.noticeFlags)
	if err != nil {
		return err
	}
	defer done()
	if o.channel == store.ChannelWebhook && o.url == "" {
		if pol, ok := c.Policy(store.ChannelWebhook); ok && pol.URL != "" {
			o.url = pol.URL
		} else if o.url = d.env("BREACHCTL_WEBHOOK_URL"); o.url == "" {
			return usageErrorf("notify send --channel webhook needs --url https://... (or notify.channels' url, or BREACHCTL_WEBHOOK_URL)")
		}
	}
	if err := seedChannel(ctx, d, st, c, p, o.channel, o.corrections); err != nil {
		return fmt.Errorf("notify send: %w", err)
	}
	source := p.Source()
	if o.channel == store.ChannelWebhook {
		source = p.WebhookSource()
	}
	var sent atomic.Int64
	var last atomic.Value
	last.Store(deliver.Progress{})
	describe := func() string {
		pr := last.Load().(deliver.Progress)
		return fmt.Sprintf("sent %d · failed %d · retrying %d · %.0f msg/s", pr.Sent, pr.Failed, pr.Retrying, pr.Rate)
	}
	var bar *progress.Bar
	res, err := deliver.Send(ctx, deliver.Options{
		Store: st, CaseID: c.ID, Run: p.Run, Channel: o.channel,
		SMTPURL: o.smtp, StartTLS: o.startTLS, WebhookURL: o.url, WebhookSecret: secret,
		Username: d.env("BREACHCTL_SMTP_USERNAME"), Password: d.env("BREACHCTL_SMTP_PASSWORD"),
		Workers: o.workers, Rate: o.rate, Limit: o.limit, Uncertain: o.uncertain,
		MaxAttempts: o.maxAttempts, Backoff: o.backoff, Timeout: o.timeout, RetryFailed: o.retryFailed,
		Source: source, Logger: d.logger(),
		Progress: func(pr deliver.Progress) {
			if bar == nil && d.io.ErrIsTerminal && pr.Total > 0 {
				bar = progress.StartDescribed(d.io.Err, true, int64(pr.Total), describe, false, &sent)
			}
			last.Store(pr)
			sent.Store(int64(pr.Sent + pr.Failed))
		},
	})
	bar.Stop()
	if res != nil {
		printSendResult(d, res)
	}
	if err != nil {
		if errors.Is(err, store.ErrNoticeSenderBusy) {
			return fmt.Errorf("notify send: another notify send is running for case %s; wait for it or stop it (nothing was sent by this one): %w", c.ID, err)
		}
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("notify send stopped: messages in flight finished, the rest stay pending; run it again to resume: %w", err)
		}
		return fmt.Errorf("notify send: %w", err)
	}
	if res != nil && res.Failed > 0 {
		return fmt.Errorf("notify send: %d notices failed permanently (notify status groups them by reason; rerun with --retry-failed once the cause is fixed)", res.Failed)
	}
	if res != nil && res.UncertainHeld > 0 && o.uncertain != deliver.UncertainSkip {
		// Not done: a script must not read this send as complete.
		return fmt.Errorf("notify send: %d notices are uncertain (the connection was lost before the server answered); run notify send again after their backoff to resend them with the same Message-ID, or review them with notify status", res.UncertainHeld)
	}
	return nil
}

// maxSendWorkers bounds --workers: each worker holds an SMTP connection and
// a case-database connection.
const maxSendWorkers = 32

func printSendResult(d *deps, r *deliver.Result) {
	w := d.io.Out
	fmt.Fprintf(w, "delivery: %d sent, %d failed, %d retried, %d still pending\n", r.Sent, r.Failed, r.Retried, r.Pending)
	if r.FailedRetried > 0 {
		fmt.Fprintf(w, "  %d failed notices were put back (--retry-failed): to pending, or to uncertain when an earlier try may have been delivered\n", r.FailedRetried)
	}
	if r.SentInOtherRun > 0 {
		fmt.Fprintf(w, "  %d people had already been sent their notice from another run of this case: recorded as sent, not written to again\n", r.SentInOtherRun)
	}
	if r.DoubtFromOtherRun > 0 {
		fmt.Fprintf(w, "  %d people have a notice of another run that may have been delivered: treated as uncertain here\n", r.DoubtFromOtherRun)
	}
	if r.UncertainNew > 0 {
		fmt.Fprintf(w, "  %d connections broke after a message was handed over and before the server answered: each such try counts as an attempt; "+
			"the notice is uncertain and not sent again by this send (the next notify send resends it with the same Message-ID after its backoff, up to --max-attempts; --uncertain=skip holds it)\n", r.UncertainNew)
	}
	if r.FailedUncertain > 0 {
		fmt.Fprintf(w, "  %d notices failed at --max-attempts with delivery unknown (the connection broke after the message each time): "+
			"they may or may not have been delivered (notify status lists them by user id; --retry-failed resends them with the same Message-ID)\n", r.FailedUncertain)
	}
	if r.UncertainFound > 0 {
		fmt.Fprintf(w, "  %d notices were left uncertain by an interrupted send: %d resent with their Message-ID\n",
			r.UncertainFound, r.UncertainResent)
	}
	if r.UncertainHeld > 0 {
		fmt.Fprintf(w, "  %d notices are uncertain at the end of this send (notify status lists them; the next notify send resends them with the same Message-ID, --uncertain=skip holds them)\n", r.UncertainHeld)
	}
}

type notifyStatusOptions struct {
	caseFile string
	run      int
	format   string
}

func newNotifyStatusCmd(d *deps) *cobra.Command {
	var o notifyStatusOptions
	cmd := &cobra.Command{
		Use:   "status -f incident.yaml [--format text|json]",
		Short: "What the delivery ledger says: counts by state, failures by reason",
		Long: `Show the delivery ledger of the run (the latest by default): how many notices
are pending, sending, sent, failed or uncertain; failures grouped by reason
(the server's reply); the uncertain ones by user id, for review; and the
bounces 'notify bounces' recorded: people with a permanent or only
temporary bounce, and the user ids of the permanent ones.`,
		Example: "  breachctl notify status -f incident.yaml\n  breachctl notify status -f incident.yaml --format json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotifyStatus(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.IntVar(&o.run, "run", 0, "show this run's ledger instead of the latest")
	f.StringVar(&o.format, "format", "text", "output format: text or json")
	return cmd
}

func runNotifyStatus(ctx context.Context, d *deps, o notifyStatusOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageErrorf("--format %q: use text or json", o.format)
	}
	c, st, run, err := d.openRun(ctx, o.caseFile, o.run)
	if err != nil {
		return err
	}
	defer st.Close()
	s, err := deliver.Status(ctx, st, c.ID, run.Run)
	if err != nil {
		return err
	}
	if o.format == "json" {
		return deliver.WriteStatusJSON(d.io.Out, s)
	}
	return deliver.WriteStatusText(d.io.Out, termStatus(s))
}

// termStatus is a copy of a ledger report for the terminal: the failure
// reasons are SMTP servers' replies and the ids come from the user
// database, so they are shown escaped (textsafe.Term) and cannot drive the
// terminal or forge a line.
func termStatus(s *deliver.StatusReport) *deliver.StatusReport {
	t := *s
	t.Failures = make([]store.NoticeReason, len(s.Failures))
	for i, f := range s.Failures {
		f.Reason = textsafe.Term(f.Reason)
		t.Failures[i] = f
	}
	t.Uncertain = textsafe.Terms(s.Uncertain)
	t.SentInDoubt = textsafe.Terms(s.SentInDoubt)
	t.Bounces.PermanentUsers = textsafe.Terms(s.Bounces.PermanentUsers)
	return &t
}

// printPlan says, on standard error, what a run owes whom when another run
// has sent notices already (a single run's plan is first notices only, and
// says nothing).
func printPlan(d *deps, c *incident.Case, p *pipeline.Plan, corrections bool) {
	if p.Updates == 0 && p.Unchanged == 0 && p.Corrections == 0 && len(p.NoLongerAffected) == 0 {
		return
	}
	w := d.io.Err
	fmt.Fprintf(w, "run %d against the notices of the case's other runs: %d first notices, %d updates (exposure grew), %d already told all this run knows (nothing sent)",
		p.Run, p.First, p.Updates, p.Unchanged)
	if corrections {
		fmt.Fprintf(w, ", %d corrections", p.Corrections)
	}
	fmt.Fprintln(w)
	if n := len(p.NoLongerAffected); n > 0 && !corrections {
		fmt.Fprintf(w, "  %d people sent a notice under an earlier run are no longer affected in run %d: nothing is sent to them automatically; "+
			"'breachctl diff -f %s' lists them, 'notify send --corrections' writes to them\n", n, p.Run, textsafe.Term(c.Path))
	}
	if n := len(p.Reaffected); n > 0 {
		fmt.Fprintf(w, "  %d people told by a correction that they were not affected are affected again in run %d: breachctl has no notice for that yet; "+
			"theirs are marked failed with the reason ('notify status' lists them): write to them yourself\n", n, p.Run)
	}
}

// foreignNarrative lists the locales of rendered notices (byLocale) whose
// narrative is the top-level one, written in English, because the case
// gives none in theirs (notify.narrative.<locale>): a German letter with an
// English paragraph, for someone to notice before sending.
func foreignNarrative(c *incident.Case, byLocale map[string]int) []string {
	var out []string
	for l, n := range byLocale {
		if n > 0 && l != "en" && c.NarrativeBorrowed(l) {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}
