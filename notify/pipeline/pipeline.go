// Package pipeline joins a run's affected accounts, the people's contact
// details (read from the user database only now, never stored in the case
// database) and the notice renderer: what `notify render` writes to an
// outbox and what `notify send` hands to the SMTP workers.
package pipeline

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/notify"
	"github.com/breachctl/breachctl/notify/deliver"
)

// Contacts reads contact details for user ids (correlate.DBResolver does,
// in read-only batches).
type Contacts interface {
	Contacts(ctx context.Context, ids []string) (map[string]correlate.Contact, error)
}

// Composer renders the notices of one run.
type Composer struct {
	Case     *incident.Case
	Run      int
	Renderer *notify.Renderer
	Contacts Contacts
	Workers  int
	// MessageIDs, when set, gives each person's Message-ID (the delivery
	// ledger's) instead of the one derived from the case file.
	MessageIDs map[string]string
	// Plan, when set, says which notice each person is owed (first,
	// update, correction; nothing for people already told): Render writes
	// only those, Compose renders each as its kind.
	Plan *Plan
	// Channel is what the notices are rendered for (notify.Notice.Channel):
	// e-mail by default.
	Channel string

	accounts []store.AffectedAccount
	byID     map[string]int
}

// New prepares a composer for the run's affected accounts.
func New(c *incident.Case, run int, accounts []store.AffectedAccount, r *notify.Renderer, contacts Contacts, workers int) *Composer {
	p := &Composer{Case: c, Run: run, Renderer: r, Contacts: contacts, Workers: workers,
		accounts: accounts, byID: make(map[string]int, len(accounts))}
	for i, a := range accounts {
		p.byID[a.UserID] = i
	}
	return p
}

// Accounts returns the run's affected accounts in the order notices go out.
func (p *Composer) Accounts() []store.AffectedAccount { return p.accounts }

// NoRecord is the reason given for a person the user database no longer has.
const NoRecord = "no record in the user database (account deleted since ingest?)"

// Compose renders the notices of ids. A person who cannot be written to
// (no record, an invalid address) is returned in bad with the reason; err
// is for failures that concern everyone (the user database is down).
func (p *Composer) Compose(ctx context.Context, ids []string) (map[string]*notify.Message, map[string]string, error) {
	contacts, err := p.Contacts.Contacts(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	msgs := make(map[string]*notify.Message, len(ids))
	bad := map[string]string{}
	var notices []notify.Notice
	for _, id := range ids {
		var acct store.AffectedAccount
		var pl *Planned
		if p.Plan != nil {
			pl = p.Plan.ByUser[id]
		}
		if pl != nil && pl.Blocked != "" {
			bad[id] = pl.Blocked
			continue
		}
		i, ok := p.byID[id]
		switch {
		case ok:
			acct = p.accounts[i]
		case pl != nil && pl.Kind == store.NoticeCorrection:
			acct = p.Plan.corrected[id]
		default:
			bad[id] = fmt.Sprintf("not affected in run %d", p.Run)
			continue
		}
		ct, ok := contacts[id]
		if !ok {
			bad[id] = NoRecord
			continue
		}
		n := notify.Notice{Run: p.Run, Account: acct, Contact: ct, MessageID: p.MessageIDs[id], Channel: p.Channel}
		if pl != nil && pl.Kind != "" {
			n.Kind, n.Previous, n.PreviousSentAt, n.RefersTo = pl.Kind, pl.Previous, pl.PreviousSentAt, pl.RefersTo
			if n.MessageID == "" {
				n.MessageID = pl.MessageID
			}
		}
		notices = append(notices, n)
	}
	err = notify.RenderAll(ctx, p.Renderer, notices, p.Workers, func(m *notify.Message, err error) error {
		if err != nil {
			if re, ok := err.(*notify.RecipientError); ok {
				bad[re.UserID] = re.Reason
				return nil
			}
			return err
		}
		msgs[m.UserID] = m
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return msgs, bad, nil
}

// Source adapts Compose for the SMTP sender.
func (p *Composer) Source() deliver.Source {
	return p.source(func(m *notify.Message) (*deliver.Message, error) {
		return &deliver.Message{UserID: m.UserID, MessageID: m.MessageID, EnvelopeFrom: m.EnvelopeFrom, To: m.To, Raw: m.Raw, Date: m.Date}, nil
	})
}

// source adapts Compose for a sender: each rendered notice becomes the
// message build makes of it; one it cannot build is a person's failure (its reason).
func (p *Composer) source(build func(m *notify.Message) (*deliver.Message, error)) deliver.Source {
	return func(ctx context.Context, ids []string) (map[string]*deliver.Message, map[string]string, error) {
		msgs, bad, err := p.Compose(ctx, ids)
		if err != nil {
			return nil, nil, err
		}
		out := make(map[string]*deliver.Message, len(msgs))
		for id, m := range msgs {
			dm, err := build(m)
			if err != nil {
				bad[id] = err.Error()
				continue
			}
			out[id] = dm
		}
		return out, bad, nil
	}
}

// RenderStats counts what Render wrote.
type RenderStats struct {
	Rendered, Rejected int
	ByLocale           map[string]int
	ByJurisdiction     map[string]int
	Rejections         map[string]int // reason -> people
}

// BatchSize is how many people are read from the user database at once.
const BatchSize = 2000

// Render writes every notice of the run to the outbox, in the run's order,
// counting progress in done. The next batch is read and rendered while the
// previous one is written.
func (p *Composer) Render(ctx context.Context, out *notify.Outbox, done *atomic.Int64) (*RenderStats, error) {
	st := &RenderStats{ByLocale: map[string]int{}, ByJurisdiction: map[string]int{}, Rejections: map[string]int{}}
	type batch struct {
		ids  []string
		msgs map[string]*notify.Message
		bad  map[string]string
		err  error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 1)
	order := make([]string, 0, len(p.accounts))
	if p.Plan != nil {
		order = p.Plan.Order
	} else {
		for _, a := range p.accounts {
			order = append(order, a.UserID)
		}
	}
	go func() {
		defer close(batches)
		for lo := 0; lo < len(order); lo += BatchSize {
			hi := min(lo+BatchSize, len(order))
			ids := order[lo:hi:hi]
			msgs, bad, err := p.Compose(ctx, ids)
			select {
			case batches <- batch{ids, msgs, bad, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for b := range batches {
		if b.err != nil {
			return st, b.err
		}
		for _, id := range b.ids {
			if reason, ok := b.bad[id]; ok {
				if err := out.Reject(id, reason); err != nil {
					return st, err
				}
				st.Rejected++
				st.Rejections[reason]++
				continue
			}
			m := b.msgs[id]
			if err := out.Write(m); err != nil {
				return st, err
			}
			st.Rendered++
			st.ByLocale[m.Locale]++
			for _, j := range m.Jurisdictions {
				st.ByJurisdiction[j]++
			}
		}
		if done != nil {
			done.Add(int64(len(b.ids)))
		}
	}
	return st, ctx.Err()
}

// WebhookSource adapts Compose for the in-app channel: each message is
// the JSON body deliver.WebhookBody makes of the rendered notice.
func (p *Composer) WebhookSource() deliver.Source {
	return p.source(func(m *notify.Message) (*deliver.Message, error) {
		pt := m.Parts
		if pt == nil {
			return nil, fmt.Errorf("the notice was rendered for e-mail, not for the in-app channel")
		}
		body, err := deliver.WebhookBody(deliver.WebhookPayload{MessageID: m.MessageID, UserID: m.UserID, Locale: m.Locale,
			Kind: m.Kind, RefersTo: m.RefersTo, Subject: pt.Subject, Text: string(pt.Text), HTML: string(pt.HTML), Date: m.Date})
		if err != nil {
			return nil, fmt.Errorf("the in-app message could not be made: %w", err)
		}
		return &deliver.Message{UserID: m.UserID, MessageID: m.MessageID, Raw: body, Date: m.Date}, nil
	})
}
