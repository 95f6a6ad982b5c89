package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
)

// ChannelPlan is what the case file's channel policy (notify.channels)
// makes due on one channel in a run.
type ChannelPlan struct {
	Channel string
	// Seeds are the ledger rows to add (the plan's rows of the people due
	// on this channel; SeedNotices keeps the ones that exist).
	Seeds []store.NoticeSeed
	// Waiting are people for whom this channel is a fallback and an
	// earlier channel has not ended yet (not sent, or not yet tried).
	Waiting []string
	// NotDue counts the plan's people the channel does not apply to.
	NotDue int
	// Required counts the people due because the law asks for a letter.
	Required int
}

// PlanChannel applies the policy to every person of the plan for one
// channel: who is due on it now, who waits for an earlier channel. The
// user database is read (contacts) only when the policy asks for letters
// where they are required; the ledger's states in this run only when it
// has fallbacks.
func PlanChannel(ctx context.Context, st *store.Store, c *incident.Case, p *Composer, channel string) (*ChannelPlan, error) {
	pol, ok := c.Policy(channel)
	if !ok {
		var names []string
		for _, q := range c.Policies() {
			names = append(names, q.Channel)
		}
		return nil, fmt.Errorf("notify.channels does not list %s (it lists %v): add it to the case file to notify on it", channel, names)
	}
	seeds := p.Plan.Seeds()
	out := &ChannelPlan{Channel: channel}
	needContacts, needStates := false, false
	for _, q := range c.Policies() {
		needContacts = needContacts || slices.Contains(q.When, incident.WhenRequired)
		needStates = needStates || slices.Contains(q.When, incident.WhenFallback)
	}
	if slices.Equal(pol.When, []string{incident.WhenAlways}) {
		out.Seeds = seeds
		return out, nil
	}
	var states map[string]map[string]string
	if needStates {
		var err error
		if states, err = st.ChannelStates(ctx, c.ID, p.Run); err != nil {
			return nil, err
		}
	}
	for lo := 0; lo < len(seeds); lo += BatchSize {
		batch := seeds[lo:min(lo+BatchSize, len(seeds))]
		var contacts map[string]contactInfo
		if needContacts {
			ids := make([]string, len(batch))
			for i, s := range batch {
				ids[i] = s.UserID
			}
			cs, err := p.Contacts.Contacts(ctx, ids)
			if err != nil {
				return nil, err
			}
			contacts = make(map[string]contactInfo, len(cs))
			for id, ct := range cs {
				contacts[id] = contactInfo{country: ct.Country, consent: ct.EmailConsent}
			}
		}
		for _, sd := range batch {
			r := incident.Reach{States: states[sd.UserID], HIPAA: p.hipaa(sd.UserID)}
			if ci, ok := contacts[sd.UserID]; ok {
				r.Country, r.EmailConsent = ci.country, ci.consent
			} else if a := p.account(sd.UserID); a != nil {
				r.Country = a.Country
			}
			switch c.Decide(channel, r) {
			case incident.Due:
				out.Seeds = append(out.Seeds, sd)
				if channel == incident.ChannelLetter && slices.Contains(pol.When, incident.WhenRequired) && incident.LetterRequired(r) {
					out.Required++
				}
			case incident.Waiting:
				out.Waiting = append(out.Waiting, sd.UserID)
			default:
				out.NotDue++
			}
		}
	}
	return out, nil
}

type contactInfo struct {
	country string
	consent bool
}

// account returns the run's affected row of a person (or the row a
// correction is written from), nil when there is none.
func (p *Composer) account(id string) *store.AffectedAccount {
	if i, ok := p.byID[id]; ok {
		return &p.accounts[i]
	}
	if p.Plan != nil {
		if a, ok := p.Plan.corrected[id]; ok {
			return &a
		}
	}
	return nil
}

// hipaa reports whether a person's health information was exposed (the
// notice has HIPAA's items, and a letter is required without consent).
func (p *Composer) hipaa(id string) bool {
	a := p.account(id)
	return a != nil && slices.Contains([]string(a.Categories), string(incident.CatHealth))
}
