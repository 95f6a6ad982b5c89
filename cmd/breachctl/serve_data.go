package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/report"
	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/incident/users"
	"github.com/breachctl/breachctl/notify"
	"github.com/breachctl/breachctl/notify/deliver"
	"github.com/breachctl/breachctl/notify/pipeline"
	"github.com/breachctl/breachctl/serve"
)

// caseData is serve.Data on the case database and the user database: the
// same readings as triage, runs, diff, disclose, notify status and
// obligations.
type caseData struct {
	c         *incident.Case
	st        *store.Store
	udb       *sqlx.DB
	templates string // notice template overrides (notify send --templates)

	// The latest completed run, kept for a moment: every lookup asks.
	mu       sync.Mutex
	latest   int
	latestAt time.Time
	// kinds: each completed run's rule kinds, read once (a done run's
	// never change; a case deleted and ingested again, as the demo does,
	// needs serve restarted).
	kinds map[int]*triage.RuleKinds
	// done: run numbers known to be completed runs (a run stays done).
	done map[int]bool
}

var _ serve.Data = (*caseData)(nil)

func (cd *caseData) CaseID() string { return cd.c.ID }
func (cd *caseData) Title() string  { return cd.c.Title }

// latestTTL is how long the latest run number is reused before asking
// the database again.
const latestTTL = 2 * time.Second

func (cd *caseData) LatestRun(ctx context.Context) (int, error) {
	cd.mu.Lock()
	if cd.latest > 0 && time.Since(cd.latestAt) < latestTTL {
		n := cd.latest
		cd.mu.Unlock()
		return n, nil
	}
	cd.mu.Unlock()
	r, err := cd.st.LatestRun(ctx, cd.c.ID)
	if err != nil {
		return 0, err
	}
	cd.mu.Lock()
	cd.latest, cd.latestAt = r.Run, time.Now()
	cd.mu.Unlock()
	return r.Run, nil
}

// run resolves 0 to the latest completed run and checks any other number.
func (cd *caseData) run(ctx context.Context, n int) (int, error) {
	if n == 0 {
		return cd.LatestRun(ctx)
	}
	cd.mu.Lock()
	done := cd.done[n]
	cd.mu.Unlock()
	if done {
		return n, nil
	}
	r, err := cd.st.DoneRun(ctx, cd.c.ID, n)
	if err != nil {
		return 0, err
	}
	cd.mu.Lock()
	if cd.done == nil {
		cd.done = map[int]bool{}
	}
	cd.done[n] = true
	cd.mu.Unlock()
	return r.Run, nil
}

func (cd *caseData) Runs(ctx context.Context) ([]revision.RunInfo, error) {
	return revision.Runs(ctx, cd.st, cd.c.ID)
}

func (cd *caseData) TriageHTML(ctx context.Context, run int, w *serve.BufferedPage) error {
	s, err := triage.Build(ctx, cd.st, cd.c, run)
	if err != nil {
		return err
	}
	return s.WriteHTML(w)
}

func (cd *caseData) Diff(ctx context.Context, from, to int) (*revision.Diff, error) {
	a, b, err := diffRuns(ctx, cd.st, cd.c.ID, from, to)
	if err != nil {
		return nil, err
	}
	ra, err := cd.st.ListAffected(ctx, cd.c.ID, a.Run)
	if err != nil {
		return nil, err
	}
	rb, err := cd.st.ListAffected(ctx, cd.c.ID, b.Run)
	if err != nil {
		return nil, err
	}
	return revision.Compare(cd.c.ID, a.Run, b.Run, ra, rb), nil
}

func (cd *caseData) Disclose(ctx context.Context, run int, userID string) (*triage.Disclosure, error) {
	n, err := cd.run(ctx, run)
	if err != nil {
		return nil, err
	}
	cd.mu.Lock()
	rk := cd.kinds[n]
	cd.mu.Unlock()
	if rk == nil {
		if rk, err = triage.ReadRuleKinds(ctx, cd.st, cd.c, n); err != nil {
			return nil, err
		}
		cd.mu.Lock()
		if cd.kinds == nil {
			cd.kinds = map[int]*triage.RuleKinds{}
		}
		cd.kinds[n] = rk
		cd.mu.Unlock()
	}
	return triage.DiscloseWith(ctx, cd.st, cd.c, n, userID, rk)
}

func (cd *caseData) PersonNotices(ctx context.Context, userID string) ([]store.Notice, error) {
	return cd.st.PersonNotices(ctx, cd.c.ID, userID)
}

func (cd *caseData) Ledger(ctx context.Context, run int) (*deliver.StatusReport, error) {
	n, err := cd.run(ctx, run)
	if err != nil {
		return nil, err
	}
	return deliver.Status(ctx, cd.st, cd.c.ID, n)
}

func (cd *caseData) Obligations(ctx context.Context, run int, now time.Time) ([]report.Obligation, error) {
	n, err := cd.run(ctx, run)
	if err != nil {
		return nil, err
	}
	r, err := cd.st.DoneRun(ctx, cd.c.ID, n)
	if err != nil {
		return nil, err
	}
	in, err := runInput(ctx, cd.st, cd.c, r, now, "")
	if err != nil {
		return nil, err
	}
	return report.Obligations(in), nil
}

func (cd *caseData) LookupEmail(ctx context.Context, email string) ([]string, error) {
	if strings.TrimSpace(cd.c.Users.LookupQuery) == "" {
		return nil, serve.ErrNoLookupQuery
	}
	ids, err := users.LookupIDs(ctx, cd.udb, cd.c.Users.LookupQuery, email)
	if err != nil {
		// The error may quote the query, never the address: the address is
		// a bind parameter.
		return nil, fmt.Errorf("users.lookup_query: %w", err)
	}
	return ids, nil
}

func (cd *caseData) SelfCheck(ctx context.Context, userID string) (*serve.SelfCheck, error) {
	run, err := cd.LatestRun(ctx)
	if err != nil {
		return nil, err
	}
	sc := &serve.SelfCheck{Case: cd.c.ID, Run: run, UserID: userID, Categories: []string{}, TimeZone: cd.c.Location.String()}
	a, err := cd.st.GetAffected(ctx, cd.c.ID, run, userID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		x, err := triage.ExposedOf(a, cd.c.Location)
		if err != nil {
			return nil, err
		}
		sc.Affected, sc.Level, sc.Categories, sc.CategoryLevels = true, a.Level, x.Categories, x.CategoryLevels
		sc.TimeZone, sc.FirstExposed, sc.LastExposed = x.Zone.String(), x.First, x.Last
	}
	ns, err := cd.st.PersonNotices(ctx, cd.c.ID, userID)
	if err != nil {
		return nil, err
	}
	// The latest run's notice, else the newest one of an earlier run
	// (e-mail's: what the self-check has always reported).
	for i := len(ns) - 1; i >= 0; i-- {
		n := ns[i]
		if n.Run > run || n.Channel != store.ChannelEmail {
			continue
		}
		sc.Notice = &serve.SelfCheckNotice{Run: n.Run, Kind: n.Kind, State: n.State}
		if n.SentAt.Valid {
			t := n.SentAt.Time
			sc.Notice.SentAt = &t
		}
		break
	}
	return sc, nil
}

// Notice re-renders the person's notice of a run as it was sent: the same
// kind, Message-ID and earlier notice, the Date recorded when it was
// handed over, and compares it with the SHA-256 recorded then.
func (cd *caseData) Notice(ctx context.Context, run int, userID string) (*serve.RenderedNotice, error) {
	ns, err := cd.st.PersonNotices(ctx, cd.c.ID, userID)
	if err != nil {
		return nil, err
	}
	var n *store.Notice
	// The e-mail notice: the one re-rendered and compared here (a letter's
	// row records its PDF's hash; notify letters' manifest lists them).
	for i := range ns {
		if ns[i].Run == run && ns[i].Channel == store.ChannelEmail {
			n = &ns[i]
		}
	}
	if n == nil {
		return nil, fmt.Errorf("notice of user %s in run %d: %w", userID, run, store.ErrNotFound)
	}
	// A notice recorded as already sent under another run ("already sent
	// in run N; not sent again") is run N's message: show the one that
	// went out.
	shownRun := run
	var from int
	if n.SMTPReply.Valid && n.State == store.NoticeSent {
		if _, err := fmt.Sscanf(n.SMTPReply.String, "already sent in run %d", &from); err == nil && from != run {
			var o *store.Notice
			for i := range ns {
				if ns[i].Run == from {
					o = &ns[i]
				}
			}
			if o == nil || o.MessageID != n.MessageID {
				return nil, fmt.Errorf("notice of user %s in run %d: recorded as sent in run %d, which has no such notice", userID, run, from)
			}
			n, shownRun = o, from
		}
	}
	basis := n.Run
	if n.BasisRun.Valid {
		basis = int(n.BasisRun.Int64)
	}
	out := &serve.RenderedNotice{Run: run, Kind: n.Kind, State: n.State, MessageID: n.MessageID}
	if shownRun != run {
		out.Note = fmt.Sprintf("recorded in run %d as already sent: this is run %d's message. ", run, shownRun)
	}
	// Its date: recorded when it was handed over; for a notice sent before
	// that was recorded, when it was sent (the Date header may differ by
	// seconds); for one never handed over, now.
	var date time.Time
	handed := n.MessageDate.Valid || n.State == store.NoticeSent
	switch {
	case n.MessageDate.Valid:
		date = n.MessageDate.Time
	case n.State == store.NoticeSent && n.SentAt.Valid:
		date = n.SentAt.Time
	default:
		date = time.Now()
		handed = false
		out.Note += fmt.Sprintf("Not handed to the mail server (%s): this is how it would read if it were sent now. ", n.State)
	}
	// What the person had been told before (updates and corrections):
	// their latest notice sent before this one, from another run.
	var prev *store.AffectedAccount
	var prevSent time.Time
	if n.Kind != store.NoticeFirst {
		var p *store.Notice
		for i := range ns {
			o := &ns[i]
			if o.Run == n.Run || o.State != store.NoticeSent || !o.SentAt.Valid || !o.SentAt.Time.Before(date) {
				continue
			}
			if p == nil || o.SentAt.Time.After(p.SentAt.Time) {
				p = o
			}
		}
		if p != nil {
			pb := p.Run
			if p.BasisRun.Valid {
				pb = int(p.BasisRun.Int64)
			}
			if prev, err = cd.st.GetAffected(ctx, cd.c.ID, pb, userID); err != nil {
				return nil, fmt.Errorf("what user %s was told before (run %d): %w", userID, pb, err)
			}
			prevSent = p.SentAt.Time
		}
	}
	var acct store.AffectedAccount
	if n.Kind == store.NoticeCorrection {
		if prev == nil {
			return nil, fmt.Errorf("correction of user %s in run %d: no earlier notice to correct", userID, n.Run)
		}
		acct = *prev
	} else {
		a, err := cd.st.GetAffected(ctx, cd.c.ID, basis, userID)
		if err != nil {
			return nil, fmt.Errorf("user %s in run %d: %w", userID, basis, err)
		}
		acct = *a
	}
	res := &correlate.DBResolver{DB: cd.udb, SessionsQuery: cd.c.Users.SessionsQuery, UsersQuery: cd.c.Users.UsersQuery,
		AllowPrivilegedRole: cd.c.Users.AllowPrivilegedRole}
	contacts, err := res.Contacts(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	ct, ok := contacts[userID]
	if !ok {
		return nil, fmt.Errorf("user %s: %s", userID, pipeline.NoRecord)
	}
	r, err := notify.NewRenderer(cd.c, notify.Options{TemplatesDir: cd.templates, Date: date})
	if err != nil {
		return nil, err
	}
	m, err := r.Render(notify.Notice{Run: n.Run, Account: acct, Contact: ct, MessageID: n.MessageID, Kind: n.Kind,
		Previous: prev, PreviousSentAt: prevSent, RefersTo: n.RefersTo.String})
	if err != nil {
		return nil, err
	}
	out.Raw, out.Date = m.Raw, date
	sum := sha256.Sum256(m.Raw)
	switch {
	case !handed:
	case !n.MessageSHA256.Valid:
		out.Note += "Sent before breachctl recorded each message's digest: this is a re-rendering from the same run, not proven identical."
	case hex.EncodeToString(sum[:]) == n.MessageSHA256.String:
		out.Verified = true
		out.Note += "Byte for byte the message handed to the mail server (SHA-256 " + n.MessageSHA256.String[:16] + "…)."
	default:
		out.Note += "Differs from what was sent (SHA-256 recorded " + n.MessageSHA256.String[:16] + "…): the person's contact details, " +
			"the case file's narrative or the notice templates (notify send --templates) changed since. This is a re-rendering."
	}
	if out.Headers, out.Subject, out.Text, err = readMessage(m.Raw); err != nil {
		return nil, fmt.Errorf("notice of user %s: %w", userID, err)
	}
	return out, nil
}

// readMessage decodes a rendered notice: its headers (encoded words
// decoded), subject and text/plain part.
func readMessage(raw []byte) ([][2]string, string, string, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, "", "", err
	}
	dec := new(mime.WordDecoder)
	var hs [][2]string
	for _, k := range []string{"From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References"} {
		v := msg.Header.Get(k)
		if v == "" {
			continue
		}
		if d, err := dec.DecodeHeader(v); err == nil {
			v = d
		}
		hs = append(hs, [2]string{k, v})
	}
	subject, _ := dec.DecodeHeader(msg.Header.Get("Subject"))
	text, err := textPart(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return hs, subject, text, err
}

// textPart finds the first text/plain part, decoded.
func textPart(ctype, cte string, body io.Reader) (string, error) {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return "", fmt.Errorf("content type: %w", err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return "", errors.New("no text/plain part")
			}
			if err != nil {
				return "", err
			}
			if t, err := textPart(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err == nil {
				return t, nil
			}
		}
	}
	if mt != "text/plain" {
		return "", errors.New("not text/plain")
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body) // it skips the line breaks
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}
