// Package deliver sends the notices of a case from the ledger
// (breachctl.notices), one channel at a time: by e-mail over SMTP, or in-app
// by a webhook (an HTTPS POST to the company's own service). Either way:
// resumable, rate-limited, retried, never lost, never silently doubled.
//
// The ledger, not a batch, is the resume point. Each worker claims one
// notice at a time: `sending` is committed before the SMTP transaction (or
// HTTP request) starts, and `sent`, `failed` or `pending` (retry later)
// after it ends, in the same statement that claims the worker's next
// notice. A sender that dies therefore leaves at most one notice per worker
// in `sending`; the next sender (only one runs per case and channel, under a
// PostgreSQL advisory lock) marks those `uncertain` and, by default, resends
// them with the same Message-ID.
//
// A connection lost after the message was handed over (the server's answer
// never came) also makes a notice `uncertain`. That is an attempt like any
// other: the notice waits its backoff, is never sent again by the same Send
// (a later send resends it, --uncertain permitting), and at MaxAttempts it
// fails with its delivery unknown (`failed`, in doubt).
//
// # The webhook channel
//
// Each notice is one POST to Options.WebhookURL (https://, or http:// to a
// loopback host only; redirects are never followed) whose body is the JSON
// object made by WebhookBody, with the headers
//
//	Content-Type: application/json
//	Idempotency-Key: <the notice's Message-ID, without angle brackets>
//	User-Agent: breachctl
//	Breachctl-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//
// The secret (Options.WebhookSecret, at least MinWebhookSecret bytes) is
// shared with the receiving service. A receiver must
//
//   - verify the signature over the body's raw bytes, with a constant-time
//     compare, and refuse a timestamp far from its clock (a replay):
//     VerifyWebhookSignature does both;
//   - deduplicate by Idempotency-Key: a notice whose delivery is in doubt
//     (the request was written, no answer came) is sent again later with
//     the same key and the same body (a new timestamp and signature), and
//     must then be answered 2xx without being shown twice;
//   - answer 2xx once the notice is stored.
//
// The answers, as the ledger records them:
//
//	2xx                      sent ("HTTP 200 OK"; the response body is never kept)
//	408, 425, 429, 5xx       retried after the backoff, or after Retry-After (seconds or an
//	                         HTTP-date, at most an hour) when that is later
//	401, 403                 the endpoint refuses us: the send stops, the notice stays pending
//	3xx                      not followed: the send stops, the notice stays pending
//	other 4xx                failed for that person (e.g. 404, 410: unknown in the app)
//	no connection, or lost   not delivered: retried at once on a new connection
//	before the request was   (up to MaxAttempts)
//	written whole
//	no answer after the      uncertain: delivered or not, nobody knows; resent by a later
//	request was written      send with the same Idempotency-Key
//	(timeout, reset, EOF,
//	malformed response)
//
// Each request is bounded by Options.Timeout; connections are kept alive,
// one request in flight per worker. Logs and errors name user ids, never
// the body.
package deliver

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/breachctl/breachctl/incident/store"
)

// Message is one ready notice.
type Message struct {
	UserID       string
	MessageID    string // as in the ledger, with or without angle brackets
	EnvelopeFrom string
	To           string
	// Raw is the whole RFC 5322 message, CRLF line ends (e-mail), or the
	// JSON body made by WebhookBody (webhook; EnvelopeFrom and To unused).
	Raw []byte
	// Date is the message's Date header, recorded with its SHA-256 when it
	// is handed over, so the notice can be shown as it was received.
	Date time.Time
}

// Source returns the ready messages for the given user ids. A user id whose
// message cannot be made (e.g. invalid address) is returned in bad with a
// reason (no personal data) and is marked failed in the ledger; a user id in
// neither map is marked failed too. err aborts the send.
type Source func(ctx context.Context, userIDs []string) (msgs map[string]*Message, bad map[string]string, err error)

// Uncertain policies (Options.Uncertain).
const (
	UncertainResend = "resend"
	UncertainSkip   = "skip"
)

// Options configure Send.
type Options struct {
	Store  *store.Store
	CaseID string
	Run    int
	// Channel is the ledger's channel the notices are sent on:
	// store.ChannelEmail (default) over SMTP, store.ChannelWebhook over
	// HTTP (Webhook).
	Channel string

	// SMTPURL is smtp://[user:pass@]host[:port] (STARTTLS) or
	// smtps://[user:pass@]host[:port] (implicit TLS, port 465 by default).
	SMTPURL string
	// StartTLS is required (default), opportunistic or off; towards a
	// loopback server the default is opportunistic.
	StartTLS string
	// Username and Password are used when the URL has none (the CLI fills
	// them from BREACHCTL_SMTP_USERNAME / BREACHCTL_SMTP_PASSWORD).
	Username, Password string

	// WebhookURL is where the webhook channel POSTs each notice:
	// https://host[:port]/path, or http:// to a loopback host only.
	WebhookURL string
	// WebhookSecret signs each request (Breachctl-Signature); at least
	// MinWebhookSecret bytes, shared with the receiving service. The CLI
	// reads it from BREACHCTL_WEBHOOK_SECRET or a file, never a flag.
	WebhookSecret []byte

	Workers   int     // parallel connections (SMTP or HTTP); default 4
	Rate      float64 // messages per second across workers; 0 = unlimited
	Limit     int     // send at most this many notices in this run; 0 = all
	Uncertain string  // resend (default) or skip
	// RetryFailed puts the run's failed notices back to pending first.
	RetryFailed bool

	MaxAttempts int           // attempts per notice before it fails, across sends; default 5
	Backoff     time.Duration // first retry delay after a 4xx or an uncertain try, doubled each time; default 30s
	Timeout     time.Duration // per connection step, SMTP transaction or HTTP request; default 60s

	Source   Source
	Logger   *slog.Logger
	Progress func(p Progress) // optional; called about 4 times a second and at the end

	// Dial and TLSConfig are optional (tests), for both transports.
	Dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	TLSConfig *tls.Config
}

// Progress is a snapshot for a progress bar.
type Progress struct {
	Total    int // notices this send set out to deliver
	Sent     int
	Failed   int
	Retrying int           // waiting for a retry after a temporary failure
	Rate     float64       // messages per second, recent
	ETA      time.Duration // 0 when unknown
}

// Result is what a send did.
type Result struct {
	Total          int // notices due when the send started (capped by Limit)
	Sent           int // accepted by the server in this send
	Failed         int // failed in this send (refused, out of attempts, no message)
	Retried        int // temporary failures and broken connections retried
	Pending        int // still pending at the end
	UncertainFound int // found in `sending` at start: a previous sender died mid-transaction
	// UncertainNew: connections lost after a message was handed over,
	// before the reply. Each such notice was tried once in this send: it is
	// left uncertain for a later send, or, out of attempts, failed with its
	// delivery unknown (FailedUncertain).
	UncertainNew    int
	UncertainResent int // uncertain notices sent again, with the same Message-ID
	// UncertainHeld: uncertain notices left at the end (made uncertain in
	// this send, --uncertain=skip, or interrupted).
	UncertainHeld int
	// FailedUncertain: of Failed, the notices that failed with their
	// delivery unknown (out of attempts, the last one in doubt).
	FailedUncertain int
	// SentInOtherRun: notices recorded as sent because another run of the
	// case already sent that person theirs (a revised count never resends).
	SentInOtherRun int
	// DoubtFromOtherRun: notices made uncertain because another run's notice
	// to that person may have been delivered.
	DoubtFromOtherRun int
	// FailedRetried: failed notices put back to pending (Options.RetryFailed).
	FailedRetried int
	Elapsed       time.Duration
}

// sourceBatch is how many user ids are asked of the Source at once.
const sourceBatch = 200

// Send delivers the run's due notices. See the package comment.
func Send(ctx context.Context, opts Options) (*Result, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	srv, err := newTransport(&opts)
	if err != nil {
		return nil, err
	}
	st := opts.Store.Ledger(opts.Channel)
	start := time.Now()
	// If the lock's connection dies, another sender could start: stop.
	var onLost atomic.Pointer[func(error)]
	release, err := st.LockNoticeSenderWatch(ctx, opts.CaseID, func(err error) {
		if f := onLost.Load(); f != nil {
			(*f)(err)
		}
	})
	if err != nil {
		if errors.Is(err, store.ErrNoticeSenderBusy) {
			return nil, fmt.Errorf("%w: wait for it to finish (only one sender per case at a time)", err)
		}
		return nil, err
	}
	defer release()

	res := &Result{}
	if res.UncertainFound, err = st.RecoverSending(ctx, opts.CaseID, opts.Run); err != nil {
		return nil, err
	}
	if res.SentInOtherRun, res.DoubtFromOtherRun, err = st.ReconcileRuns(ctx, opts.CaseID, opts.Run); err != nil {
		return nil, err
	}
	if opts.RetryFailed {
		if res.FailedRetried, err = st.RetryFailed(ctx, opts.CaseID, opts.Run); err != nil {
			return nil, err
		}
	}
	if res.UncertainFound > 0 {
		opts.Logger.Warn("notices left in sending by a previous sender are uncertain",
			"case", opts.CaseID, "run", opts.Run, "count", res.UncertainFound, "policy", opts.Uncertain)
	}
	counts, err := st.CountNotices(ctx, opts.CaseID, opts.Run)
	if err != nil {
		return nil, err
	}
	resend := opts.Uncertain == UncertainResend
	res.Total = counts.Pending
	if resend {
		res.Total += counts.Uncertain
	}
	if opts.Limit > 0 && res.Total > opts.Limit {
		res.Total = opts.Limit
	}
	finish := func() error {
		c, err := st.CountNotices(context.WithoutCancel(ctx), opts.CaseID, opts.Run)
		if err != nil {
			return err
		}
		res.Pending, res.UncertainHeld = c.Pending, c.Uncertain
		res.Elapsed = time.Since(start)
		return nil
	}
	if res.Total == 0 {
		return res, finish()
	}

	// One connection before anything else: a dead server or a TLS policy
	// failure is reported before any notice is touched.
	first, err := srv.connect(ctx)
	if err != nil {
		if ferr := finish(); ferr != nil {
			return res, errors.Join(err, ferr)
		}
		return res, fmt.Errorf("%w; %s", err, stillPending(res, "rerun when the server answers"))
	}

	s := &sender{
		opts:     opts,
		st:       st,
		srv:      srv,
		res:      res,
		resend:   resend,
		jobs:     make(chan job, opts.Workers),
		inflight: map[string]bool{},
		retrying: map[string]bool{},
		doubted:  map[string]bool{},
		changed:  make(chan struct{}, 1),
		limiter:  rate.NewLimiter(rate.Inf, 1),
		start:    start,
	}
	if opts.Rate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opts.Rate), 1)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancel = cancel
	lostFn := func(err error) { s.fail(err) }
	onLost.Store(&lostFn)
	s.dbCtx = context.WithoutCancel(ctx)

	var wg sync.WaitGroup
	for i := 0; i < opts.Workers; i++ {
		var cn session
		if i == 0 {
			cn = first
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.worker(runCtx, cn)
		}()
	}
	progDone := make(chan struct{})
	progStopped := make(chan struct{})
	go s.reportProgress(progDone, progStopped)
	if err := s.feed(runCtx); err != nil {
		s.fail(err)
	}
	wg.Wait()
	close(progDone)
	<-progStopped

	res.Sent = int(s.sent.Load())
	res.Failed = int(s.failed.Load())
	res.Retried = int(s.retried.Load())
	res.UncertainNew = int(s.uncertainNew.Load())
	res.UncertainResent = int(s.uncertainResent.Load())
	res.FailedUncertain = int(s.failedUncertain.Load())
	if err := finish(); err != nil {
		return res, err
	}
	if ferr := s.fatal(); ferr != nil {
		hint := "rerun to resume"
		if errors.Is(ferr, ErrUnreachable) {
			hint = "rerun when the server answers"
		}
		return res, fmt.Errorf("%w; %s", ferr, stillPending(res, hint))
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("interrupted: %s: %w", stillPending(res, "rerun to resume"), err)
	}
	return res, nil
}

func stillPending(res *Result, hint string) string {
	var b strings.Builder
	if res.Sent == 0 {
		b.WriteString("nothing sent")
	} else {
		fmt.Fprintf(&b, "%d sent", res.Sent)
	}
	fmt.Fprintf(&b, "; %d notices still pending", res.Pending)
	if res.UncertainHeld > 0 {
		fmt.Fprintf(&b, " and %d uncertain", res.UncertainHeld)
	}
	b.WriteString("; " + hint)
	return b.String()
}

func (o *Options) defaults() error {
	switch {
	case o.Store == nil:
		return errors.New("deliver: no case store")
	case o.CaseID == "" || o.Run <= 0:
		return errors.New("deliver: case id and run are required")
	case o.Source == nil:
		return errors.New("deliver: no message source")
	case o.Channel == "":
		o.Channel = store.ChannelEmail
	}
	if o.Channel == store.ChannelEmail && o.SMTPURL == "" {
		return errors.New("no SMTP server: give --smtp smtp://host:port")
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Rate < 0 {
		return fmt.Errorf("--rate %v: want 0 (unlimited) or more", o.Rate)
	}
	if o.Limit < 0 {
		return fmt.Errorf("--limit %d: want 0 (all) or more", o.Limit)
	}
	switch o.Uncertain {
	case "":
		o.Uncertain = UncertainResend
	case UncertainResend, UncertainSkip:
	default:
		return fmt.Errorf("--uncertain %q: want resend or skip", o.Uncertain)
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

type job struct {
	due store.DueNotice
	msg *Message
}

type sender struct {
	opts    Options
	st      *store.Ledger
	srv     transport
	res     *Result
	resend  bool
	jobs    chan job
	limiter *rate.Limiter
	start   time.Time
	cancel  context.CancelFunc
	dbCtx   context.Context

	mu       sync.Mutex
	inflight map[string]bool // dispatched and not yet recorded
	retrying map[string]bool // waiting for a retry
	doubted  map[string]bool // made uncertain by this send (or without a message): never claimed again by it
	firstErr error
	changed  chan struct{} // signalled when inflight shrinks

	sent, failed, retried, uncertainNew, uncertainResent, failedUncertain atomic.Int64
}

func (s *sender) fail(err error) {
	s.mu.Lock()
	if s.firstErr == nil {
		s.firstErr = err
	}
	s.mu.Unlock()
	s.cancel()
}

func (s *sender) fatal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstErr
}

// done removes a notice from the in-flight set and wakes the feeder.
func (s *sender) done(userID string) {
	s.mu.Lock()
	delete(s.inflight, userID)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// feed walks the due notices in user-id order, asks the Source for their
// messages in batches and hands them to the workers; when a pass finds
// nothing, it waits for in-flight notices and retry times.
func (s *sender) feed(ctx context.Context) error {
	defer close(s.jobs)
	o := s.opts
	var (
		cursor     string
		dispatched bool // in this pass
		only       []string
		picked     = map[string]bool{} // for Limit
	)
	for {
		if ctx.Err() != nil {
			return nil
		}
		due, err := s.st.DueNotices(ctx, o.CaseID, o.Run, cursor, sourceBatch, s.resend, only)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var todo []store.DueNotice
		s.mu.Lock()
		for _, d := range due {
			if s.inflight[d.UserID] || s.doubted[d.UserID] {
				continue
			}
			if o.Limit > 0 && !picked[d.UserID] {
				if len(picked) >= o.Limit {
					continue
				}
				picked[d.UserID] = true
			}
			s.inflight[d.UserID] = true
			todo = append(todo, d)
		}
		s.mu.Unlock()
		if o.Limit > 0 && only == nil && len(picked) >= o.Limit {
			only = make([]string, 0, len(picked))
			for u := range picked {
				only = append(only, u)
			}
		}
		if len(todo) > 0 {
			dispatched = true
			if err := s.dispatch(ctx, todo); err != nil {
				return err
			}
		}
		if len(due) == sourceBatch {
			cursor = due[len(due)-1].UserID
			continue
		}
		cursor = ""
		if dispatched {
			dispatched = false
			continue
		}
		// A whole pass found nothing new: wait for in-flight notices to be
		// recorded, or for the next retry time (of a notice this send may
		// still claim).
		s.mu.Lock()
		exclude := make([]string, 0, len(s.inflight)+len(s.doubted))
		for u := range s.inflight {
			exclude = append(exclude, u)
		}
		inflight := len(exclude)
		for u := range s.doubted {
			exclude = append(exclude, u)
		}
		s.mu.Unlock()
		wait, ok, err := s.st.NextDue(ctx, o.CaseID, o.Run, s.resend, only, exclude)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !ok && inflight == 0 {
			return nil
		}
		var timer *time.Timer
		var fire <-chan time.Time
		if ok {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-fire:
		case <-s.changed:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// dispatch gets the messages of some due notices and queues them.
func (s *sender) dispatch(ctx context.Context, todo []store.DueNotice) error {
	ids := make([]string, len(todo))
	for i, d := range todo {
		ids[i] = d.UserID
	}
	msgs, bad, err := s.opts.Source(ctx, ids)
	if err != nil {
		for _, id := range ids {
			s.done(id)
		}
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("message source: %w", err)
	}
	reasons := map[string]string{}
	for i, d := range todo {
		m := msgs[d.UserID]
		if m == nil {
			r := bad[d.UserID]
			if r == "" {
				r = "the message source returned no message"
			}
			reasons[d.UserID] = r
			continue
		}
		if m.UserID == "" {
			m.UserID = d.UserID
		}
		select {
		case s.jobs <- job{due: d, msg: m}:
		case <-ctx.Done():
			for _, rest := range todo[i:] {
				if _, isBad := reasons[rest.UserID]; !isBad {
					s.done(rest.UserID)
				}
			}
			s.failBad(reasons)
			return nil
		}
	}
	s.failBad(reasons)
	return nil
}

func (s *sender) failBad(reasons map[string]string) {
	if len(reasons) == 0 {
		return
	}
	n, err := s.st.FailNotices(s.dbCtx, s.opts.CaseID, s.opts.Run, reasons)
	// Failed, or (uncertain ones) kept uncertain with the reason: either
	// way this send does not ask for them again.
	s.mu.Lock()
	for u := range reasons {
		s.doubted[u] = true
	}
	s.mu.Unlock()
	for u, r := range reasons {
		s.opts.Logger.Warn("notice cannot be made", "user_id", u, "reason", r)
		s.done(u)
	}
	if err != nil {
		s.fail(err)
		return
	}
	s.failed.Add(int64(n))
}

// worker sends one message at a time on its own connection.
func (s *sender) worker(ctx context.Context, cn session) {
	rec, err := s.st.NoticeRecorder(ctx)
	if err != nil {
		closeSession(cn)
		if ctx.Err() == nil {
			s.fail(fmt.Errorf("case database: %w", err))
		}
		return
	}
	defer rec.Close()
	var prev *store.NoticeOutcome // recorded with the next claim, or alone
	defer func() {
		s.record(rec, prev, nil)
		closeSession(cn)
	}()
	for {
		var (
			j  job
			ok bool
		)
		select {
		case j, ok = <-s.jobs:
		default:
			// Nothing queued: record the previous outcome now rather than
			// hold it while waiting.
			if prev != nil {
				if _, err := s.record(rec, prev, nil); err != nil {
					prev = nil
					return
				}
				prev = nil
			}
			select {
			case j, ok = <-s.jobs:
			case <-ctx.Done():
			}
		}
		if !ok {
			return
		}
		if ctx.Err() != nil {
			s.done(j.due.UserID)
			return
		}
		// About to wait (for a connection or the rate limit): record the
		// previous outcome first, so no notice stays in sending meanwhile.
		if prev != nil && (cn == nil || cn.idle() > 15*time.Second || (s.opts.Rate > 0 && s.limiter.Tokens() < 1)) {
			if _, err := s.record(rec, prev, nil); err != nil {
				prev = nil
				s.done(j.due.UserID)
				return
			}
			prev = nil
		}
		// The connection is made before the claim: a server that does not
		// answer leaves the notice pending, untouched.
		if cn != nil && cn.idle() > 15*time.Second && !cn.alive(s.opts.Timeout) {
			cn.close()
			cn = nil
		}
		if cn == nil {
			var err error
			if cn, err = s.connect(ctx); err != nil {
				s.done(j.due.UserID)
				if ctx.Err() == nil {
					s.fail(err)
				}
				return
			}
		}
		if err := s.limiter.Wait(ctx); err != nil {
			s.done(j.due.UserID)
			return
		}
		claimed, err := s.record(rec, prev, &store.NoticeClaim{UserID: j.due.UserID, State: j.due.State})
		prev = nil
		if errors.Is(err, store.ErrNotClaimable) {
			s.done(j.due.UserID)
			continue
		}
		if err != nil {
			s.done(j.due.UserID)
			return
		}
		s.mu.Lock()
		delete(s.retrying, j.due.UserID)
		s.mu.Unlock()
		var out store.NoticeOutcome
		out, cn = s.deliver(ctx, cn, j.msg, claimed)
		prev = &out
	}
}

// record commits an outcome and/or a claim; on a database error it stops
// the send (the notice stays in `sending` and is found uncertain next time).
func (s *sender) record(rec *store.NoticeRecorder, out *store.NoticeOutcome, claim *store.NoticeClaim) (*store.Claimed, error) {
	if out == nil && claim == nil {
		return nil, nil
	}
	var (
		claimed *store.Claimed
		err     error
	)
	for try := 0; try < 3; try++ {
		ctx, cancel := context.WithTimeout(s.dbCtx, 30*time.Second)
		claimed, err = rec.FinishAndClaim(ctx, s.opts.CaseID, s.opts.Run, out, claim)
		cancel()
		if err == nil || errors.Is(err, store.ErrNotClaimable) || !isTransient(err) {
			break
		}
		time.Sleep(time.Duration(try+1) * 200 * time.Millisecond)
	}
	if err != nil && !errors.Is(err, store.ErrNotClaimable) {
		s.fail(fmt.Errorf("case database: %w", err))
		if out != nil {
			s.done(out.UserID)
		}
		return nil, err
	}
	if out != nil {
		switch out.State {
		case store.NoticeSent:
			s.sent.Add(1)
		case store.NoticeFailed:
			s.failed.Add(1)
			if out.InDoubt {
				s.failedUncertain.Add(1)
			}
		case store.NoticeUncertain:
			// Recorded before done() below drops it from inflight, so the
			// feeder never sees it claimable.
			s.mu.Lock()
			s.doubted[out.UserID] = true
			s.mu.Unlock()
		case store.NoticePending:
			if !out.NextAttemptAt.IsZero() {
				s.mu.Lock()
				s.retrying[out.UserID] = true
				s.mu.Unlock()
			}
		}
		s.done(out.UserID)
	}
	return claimed, err
}

func isTransient(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "bad connection")
}

// connect opens a connection, retrying temporary failures with backoff;
// it gives up after MaxAttempts tries or a permanent failure.
func (s *sender) connect(ctx context.Context) (session, error) {
	delay := min(s.opts.Backoff, time.Second)
	var last error
	for try := 1; ; try++ {
		cn, err := s.srv.connect(ctx)
		if err == nil {
			return cn, nil
		}
		last = err
		var ce *connError
		if errors.As(err, &ce) && ce.permanent {
			return nil, err
		}
		if try >= s.opts.MaxAttempts {
			return nil, fmt.Errorf("%w (%d tries)", last, try)
		}
		s.opts.Logger.Warn(s.srv.name()+" connection failed; retrying", "server", s.srv.addr(), "error", err, "in", delay)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// deliver sends a claimed message, reconnecting and retrying at once when
// the connection breaks before the message is complete, and returns the
// outcome to record and the connection to keep (nil when closed).
func (s *sender) deliver(ctx context.Context, cn session, m *Message, c *store.Claimed) (store.NoticeOutcome, session) {
	o := s.opts
	log := o.Logger.With("user_id", c.UserID)
	sum := sha256.Sum256(m.Raw)
	out := store.NoticeOutcome{UserID: c.UserID, MessageSHA256: hex.EncodeToString(sum[:]), MessageDate: m.Date}
	if normID(m.MessageID) != normID(c.MessageID) {
		// The Source must render under the ledger's Message-ID; a mismatch
		// is a program error: leave the notice pending and stop.
		out.State, out.AttemptsDelta = store.NoticePending, -1
		out.LastError = "the message's Message-ID differs from the ledger's"
		s.fail(fmt.Errorf("notice for user %s: its Message-ID differs from the ledger's: not sent", c.UserID))
		return out, cn
	}
	attempts := c.Attempts
	for {
		if cn == nil {
			var err error
			// Reconnecting for a claimed notice is bounded by the timeout,
			// not by ctx: an interrupted send still finishes it.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 4*o.Timeout)
			cn, err = s.connect(cctx)
			cancel()
			if err != nil {
				// Never reached the server on this try: back to pending.
				out.State, out.LastError = store.NoticePending, err.Error()
				out.AttemptsDelta = attempts - c.Attempts - 1
				s.fail(err)
				return out, nil
			}
		}
		r := cn.send(m, o.Timeout)
		if r.close {
			cn.close()
			cn = nil
		}
		switch r.kind {
		case txSent:
			out.State, out.SMTPReply = store.NoticeSent, r.reply
			out.AttemptsDelta = attempts - c.Attempts
			if c.WasState == store.NoticeUncertain {
				s.uncertainResent.Add(1)
				log.Info("uncertain notice sent again with the same Message-ID")
			}
			return out, cn
		case txSenderRefused:
			// The server refuses us, not this recipient (a sender address
			// or credentials it does not accept): failing every notice for
			// it would be wrong. Back to pending, and stop the send.
			out.State, out.SMTPReply, out.LastError = store.NoticePending, r.reply, r.reply
			if out.LastError == "" && r.err != nil {
				out.LastError = scrub(r.err.Error())
			}
			out.AttemptsDelta = attempts - c.Attempts - 1
			s.fail(r.err)
			return out, cn
		case txPermanent:
			out.State, out.SMTPReply = store.NoticeFailed, r.reply
			out.LastError = r.reply
			if out.LastError == "" && r.err != nil {
				out.LastError = scrub(r.err.Error())
			}
			out.AttemptsDelta = attempts - c.Attempts
			log.Warn("notice refused", "reply", out.LastError)
			return out, cn
		case txTemporary:
			out.SMTPReply, out.LastError = r.reply, r.reply
			out.AttemptsDelta = attempts - c.Attempts
			if attempts >= o.MaxAttempts {
				out.State = store.NoticeFailed
				out.LastError = fmt.Sprintf("gave up after %d attempts: %s", attempts, r.reply)
				log.Warn("notice failed", "reason", out.LastError)
				return out, cn
			}
			out.State = store.NoticePending
			// The server's Retry-After, when later than the backoff.
			out.NextAttemptAt = time.Now().Add(max(backoff(o.Backoff, attempts), r.retryAfter))
			s.retried.Add(1)
			if r.retryAfter > 0 {
				log.Info("temporary failure; will retry", "reply", r.reply, "attempt", attempts, "retry_after", r.retryAfter)
			} else {
				log.Info("temporary failure; will retry", "reply", r.reply, "attempt", attempts)
			}
			return out, cn
		case txLostEarly:
			s.retried.Add(1)
			if attempts >= o.MaxAttempts {
				out.State = store.NoticeFailed
				out.LastError = fmt.Sprintf("gave up after %d attempts: connection lost: %v", attempts, r.err)
				out.AttemptsDelta = attempts - c.Attempts
				log.Warn("notice failed", "reason", out.LastError)
				return out, cn
			}
			log.Info("connection lost before the message was complete; reconnecting", "error", r.err)
			attempts++
			continue
		case txLostLate:
			// Delivered or not, nobody knows: an attempt all the same. It
			// waits its backoff and is not claimed again by this send (see
			// sender.doubted); out of attempts, it fails in doubt.
			out.AttemptsDelta = attempts - c.Attempts
			s.uncertainNew.Add(1)
			if attempts >= o.MaxAttempts {
				out.State, out.InDoubt = store.NoticeFailed, true
				// One reason for all (no ports or addresses), so that
				// notify status groups them.
				out.LastError = fmt.Sprintf("gave up after %d attempts: the connection broke after the message was handed over, "+
					"before the server answered: it may or may not have been delivered", attempts)
				log.Warn("notice failed, delivery unknown", "attempts", attempts, "error", r.err)
				return out, cn
			}
			out.State = store.NoticeUncertain
			out.LastError = fmt.Sprintf("connection lost after the message was handed over, before the server confirmed it: %v", r.err)
			out.NextAttemptAt = time.Now().Add(backoff(o.Backoff, attempts))
			log.Warn("delivery uncertain; a later send may resend it with the same Message-ID", "error", r.err, "attempt", attempts)
			return out, cn
		}
	}
}

func backoff(base time.Duration, attempt int) time.Duration {
	d := base
	for i := 1; i < attempt && d < time.Hour; i++ {
		d *= 2
	}
	return min(d, time.Hour)
}

func normID(id string) string { return strings.Trim(strings.TrimSpace(id), "<>") }

// reportProgress calls Options.Progress until done is closed, then once more.
func (s *sender) reportProgress(done <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	if s.opts.Progress == nil {
		return
	}
	type sample struct {
		at time.Time
		n  int64
	}
	window := []sample{{time.Now(), 0}}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	emit := func() {
		sent, failed := s.sent.Load(), s.failed.Load()
		now := time.Now()
		window = append(window, sample{now, sent + failed})
		for len(window) > 2 && now.Sub(window[0].at) > 10*time.Second {
			window = window[1:]
		}
		p := Progress{Total: s.res.Total, Sent: int(sent), Failed: int(failed)}
		s.mu.Lock()
		p.Retrying = len(s.retrying)
		s.mu.Unlock()
		if dt := now.Sub(window[0].at).Seconds(); dt > 0 {
			p.Rate = float64(window[len(window)-1].n-window[0].n) / dt
		}
		if left := p.Total - p.Sent - p.Failed; left > 0 && p.Rate > 0 {
			p.ETA = time.Duration(float64(left) / p.Rate * float64(time.Second))
		}
		s.opts.Progress(p)
	}
	for {
		select {
		case <-tick.C:
			emit()
		case <-done:
			emit()
			return
		}
	}
}
