package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/notify"
)

// Planned is the notice one person is owed under a run, against what the
// case's other runs sent them.
type Planned struct {
	UserID string
	// Kind is what to send: store.NoticeFirst, NoticeUpdate or
	// NoticeCorrection; "" when they were already told all this run
	// knows (Told says how).
	Kind      string
	MessageID string
	RefersTo  string
	BasisRun  int
	// Previous is what they were last told (the affected row of that
	// notice's basis run) and PreviousSentAt when.
	Previous       *store.AffectedAccount
	PreviousSentAt time.Time
	Told           *store.SentNotice
	Growth         revision.Growth
	// Blocked, when set, is why this notice cannot be written: the
	// person is marked failed with it (the rest of the run is sent).
	Blocked string
}

// Plan is what a run owes each person.
type Plan struct {
	Run    int
	ByUser map[string]*Planned
	// Order lists the people with something to send, in the run's order
	// (corrections last).
	Order                                  []string
	First, Updates, Unchanged, Corrections int
	// NoLongerAffected were sent a notice under another run and are not
	// affected in this one (corrections go to them only when asked).
	NoLongerAffected []string
	// Reaffected were told by a correction that they were not affected
	// after all, and are affected again in this run: breachctl has no
	// notice for that yet, so theirs fail with ReaffectedReason.
	Reaffected []string
	// correction rows: the account a correction is written from.
	corrected map[string]store.AffectedAccount
}

// MakePlan decides, for every affected person of run and (with
// corrections) everyone told earlier who is no longer affected, which
// notice they are owed: a first notice when nothing was sent to them yet;
// an update when this run shows more of them exposed than their last sent
// notice said (revision.Grew); nothing when it does not; a correction only
// when asked. The notices of run itself do not count, so the plan stays
// the same while run's notices are being sent.
func MakePlan(ctx context.Context, st *store.Store, c *incident.Case, run int, accounts []store.AffectedAccount, corrections bool) (*Plan, error) {
	return MakeChannelPlan(ctx, st, c, run, accounts, corrections, store.ChannelEmail)
}

// MakeChannelPlan is MakePlan for one channel: what each person is owed
// on it, against what the case's other runs sent them on it.
func MakeChannelPlan(ctx context.Context, st *store.Store, c *incident.Case, run int, accounts []store.AffectedAccount, corrections bool, channel string) (*Plan, error) {
	led := st.Ledger(channel)
	last, err := led.LastSent(ctx, c.ID, run)
	if err != nil {
		return nil, err
	}
	firstIDs, err := led.FirstMessageIDs(ctx, c.ID, run)
	if err != nil {
		return nil, err
	}
	// What each person was told: the affected rows of the runs their last
	// notices described.
	told := map[int]map[string]*store.AffectedAccount{}
	for _, l := range last {
		if told[l.BasisRun] == nil {
			told[l.BasisRun] = map[string]*store.AffectedAccount{}
		}
	}
	for basis := range told {
		rows, err := st.ListAffected(ctx, c.ID, basis)
		if err != nil {
			return nil, fmt.Errorf("what run %d's notices said: %w", basis, err)
		}
		for i := range rows {
			if l, ok := last[rows[i].UserID]; ok && l.BasisRun == basis {
				told[basis][rows[i].UserID] = &rows[i]
			}
		}
	}
	p := &Plan{Run: run, ByUser: make(map[string]*Planned, len(accounts)), corrected: map[string]store.AffectedAccount{}}
	affected := make(map[string]bool, len(accounts))
	for i := range accounts {
		a := &accounts[i]
		affected[a.UserID] = true
		pl := &Planned{UserID: a.UserID, BasisRun: run}
		l, ok := last[a.UserID]
		switch {
		case !ok:
			pl.Kind, pl.MessageID = store.NoticeFirst, firstIDs[a.UserID]
			if pl.MessageID == "" {
				pl.MessageID = notify.MessageID(c, a.UserID)
			}
			p.First++
		case l.Kind == store.NoticeCorrection:
			// Told they were not affected after all, and affected again:
			// neither a first notice (theirs went out) nor an update of
			// what the correction said fits, and no template says "we
			// were wrong to withdraw it" yet. The person is marked failed
			// with the reason, loudly, and the rest of the run is sent.
			pl.Kind, pl.MessageID = store.NoticeUpdate, notify.UpdateMessageID(c, a.UserID, run)
			pl.RefersTo = firstRef(l, firstIDs, c, a.UserID)
			pl.Blocked = ReaffectedReason
			p.Reaffected = append(p.Reaffected, a.UserID)
			p.Updates++
		default:
			prev := told[l.BasisRun][a.UserID]
			if prev == nil {
				// Told they were not affected after all (or what they
				// were told is gone): everything this run knows is new.
				prev = &store.AffectedAccount{UserID: a.UserID, Level: "possible", CategoryLevels: []byte(`{}`)}
			}
			g, grew := revision.Grew(prev, a)
			if !grew {
				lc := l
				pl.Kind, pl.Told = "", &lc
				p.Unchanged++
				break
			}
			pl.Kind, pl.MessageID, pl.Growth = store.NoticeUpdate, notify.UpdateMessageID(c, a.UserID, run), g
			pl.RefersTo = firstRef(l, firstIDs, c, a.UserID)
			pl.Previous, pl.PreviousSentAt = prev, l.SentAt
			p.Updates++
		}
		p.ByUser[a.UserID] = pl
		if pl.Kind != "" {
			p.Order = append(p.Order, a.UserID)
		}
	}
	for _, u := range sortedIDs(last) {
		l := last[u]
		if affected[u] || l.Kind == store.NoticeCorrection {
			continue
		}
		p.NoLongerAffected = append(p.NoLongerAffected, u)
		prev := told[l.BasisRun][u]
		if !corrections || prev == nil {
			continue
		}
		p.ByUser[u] = &Planned{UserID: u, Kind: store.NoticeCorrection, MessageID: notify.CorrectionMessageID(c, u, run),
			RefersTo: firstRef(l, firstIDs, c, u), BasisRun: l.BasisRun, Previous: prev, PreviousSentAt: l.SentAt}
		p.corrected[u] = *prev
		p.Order = append(p.Order, u)
		p.Corrections++
	}
	return p, nil
}

// ReaffectedReason is the ledger's reason for a person told by a
// correction that they were not affected, and affected again.
const ReaffectedReason = "told by a correction that they were not affected after all, and affected again in this run: " +
	"breachctl has no notice for this yet; write to them yourself (their first notice's Message-ID is the ledger's refers_to)"

// firstRef is the Message-ID of the person's first notice.
func firstRef(l store.SentNotice, firstIDs map[string]string, c *incident.Case, u string) string {
	switch {
	case l.FirstMessageID != "":
		return l.FirstMessageID
	case firstIDs[u] != "":
		return firstIDs[u]
	}
	return notify.MessageID(c, u)
}

// Seeds are the ledger rows of the plan: one per person with something to
// send, and one recorded as already sent for each person told all this
// run knows (so the run's ledger accounts for everyone affected in it).
func (p *Plan) Seeds() []store.NoticeSeed {
	out := make([]store.NoticeSeed, 0, len(p.ByUser))
	for _, u := range sortedPlanned(p.ByUser) {
		pl := p.ByUser[u]
		if pl.Kind == "" {
			out = append(out, store.NoticeSeed{UserID: u, MessageID: pl.Told.MessageID, State: store.NoticePending,
				Kind: pl.Told.Kind, BasisRun: pl.Told.BasisRun})
			continue
		}
		out = append(out, store.NoticeSeed{UserID: u, MessageID: pl.MessageID, State: store.NoticePending,
			Kind: pl.Kind, RefersTo: pl.RefersTo, BasisRun: pl.BasisRun})
	}
	return out
}

func sortedIDs(m map[string]store.SentNotice) []string {
	ids := make([]string, 0, len(m))
	for u := range m {
		ids = append(ids, u)
	}
	sortUserIDs(ids)
	return ids
}

func sortedPlanned(m map[string]*Planned) []string {
	ids := make([]string, 0, len(m))
	for u := range m {
		ids = append(ids, u)
	}
	sortUserIDs(ids)
	return ids
}

// sortUserIDs orders ids as the affected list does: shorter first, then
// by text (numeric ids in numeric order).
func sortUserIDs(ids []string) {
	slices.SortFunc(ids, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		switch {
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
}
