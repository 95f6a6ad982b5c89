package incident

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Delivery channels of notify.channels (the ledger's channel names).
const (
	ChannelEmail   = "email"
	ChannelLetter  = "letter"
	ChannelWebhook = "webhook"
)

// When a channel applies to a person (notify.channels[].when).
const (
	// WhenAlways: everyone gets the notice on this channel.
	WhenAlways = "always"
	// WhenRequired: the person's jurisdiction asks for a letter and they
	// did not agree to electronic notice (letters only): US residents,
	// whose state laws make written notice the default and allow e-mail
	// only as E-SIGN allows (15 U.S.C. 7001: the person consented), and
	// people whose health information was exposed (HIPAA, 45 CFR
	// 164.404(d)(1): first-class mail unless they agreed to e-mail).
	WhenRequired = "required"
	// WhenFallback: every earlier channel of the list that applies to the
	// person ended without reaching them (no usable address, refused,
	// bounced, returned).
	WhenFallback = "fallback"
)

// ChannelPolicy is one entry of notify.channels.
type ChannelPolicy struct {
	Channel string   `yaml:"channel"`
	When    []string `yaml:"when"`
	// URL (webhook): where in-app messages are POSTed; notify send --url
	// overrides it.
	URL string `yaml:"url"`
	// Paper (letter): auto (US Letter for addresses in the US and Canada,
	// A4 elsewhere; the default), a4 or letter.
	Paper string `yaml:"paper"`
	// ReturnAddress (letter): the organisation's postal address, a line
	// each, printed as the sender and, on one line, above the window.
	ReturnAddress []string `yaml:"return_address"`
}

// Policies returns notify.channels with its defaults: e-mail to everyone
// when the case file has none; the first entry's when defaults to always,
// the others' to fallback.
func (c *Case) Policies() []ChannelPolicy {
	if len(c.Notify.Channels) == 0 {
		return []ChannelPolicy{{Channel: ChannelEmail, When: []string{WhenAlways}}}
	}
	out := make([]ChannelPolicy, len(c.Notify.Channels))
	for i, p := range c.Notify.Channels {
		if len(p.When) == 0 {
			p.When = []string{WhenFallback}
			if i == 0 {
				p.When = []string{WhenAlways}
			}
		}
		if p.Channel == ChannelLetter && p.Paper == "" {
			p.Paper = "auto"
		}
		out[i] = p
	}
	return out
}

// Policy returns a channel's entry, and false when the policy does not
// use the channel.
func (c *Case) Policy(channel string) (ChannelPolicy, bool) {
	for _, p := range c.Policies() {
		if p.Channel == channel {
			return p, true
		}
	}
	return ChannelPolicy{}, false
}

// Reach is what the policy looks at for one person.
type Reach struct {
	Country      string
	HIPAA        bool // health information was exposed
	EmailConsent bool // agreed to electronic notice (users_query's email_consent)
	// States holds the person's ledger state in this run on each channel
	// that has a row for them (pending, sending, sent, failed, uncertain,
	// bounced, returned).
	States map[string]string
}

// LetterRequired reports whether the law asks for a letter to this person.
func LetterRequired(r Reach) bool {
	return !r.EmailConsent && (r.HIPAA || strings.EqualFold(r.Country, "US"))
}

// Decision is what the policy says of one person on one channel.
type Decision int

const (
	NotDue  Decision = iota // the channel does not apply, or an earlier one reached them
	Due                     // send on this channel
	Waiting                 // a fallback whose earlier channels have not ended yet
)

// Decide applies the policy to one person for one channel.
func (c *Case) Decide(channel string, r Reach) Decision {
	ps := c.Policies()
	i := slices.IndexFunc(ps, func(p ChannelPolicy) bool { return p.Channel == channel })
	if i < 0 {
		return NotDue
	}
	return decide(ps, i, r)
}

func decide(ps []ChannelPolicy, i int, r Reach) Decision {
	p := ps[i]
	best := NotDue
	for _, w := range p.When {
		switch w {
		case WhenAlways:
			return Due
		case WhenRequired:
			if p.Channel == ChannelLetter && LetterRequired(r) {
				return Due
			}
		case WhenFallback:
			if d := fallback(ps, i, r); d == Due {
				return Due
			} else if d == Waiting {
				best = Waiting
			}
		}
	}
	return best
}

// fallback: due when every earlier channel that applies to the person
// ended without reaching them; waiting while one has not ended.
func fallback(ps []ChannelPolicy, i int, r Reach) Decision {
	for j := 0; j < i; j++ {
		d := decide(ps, j, r)
		if d == NotDue {
			continue
		}
		switch r.States[ps[j].Channel] {
		case "sent":
			return NotDue
		case "failed", "bounced", "returned":
			continue
		default: // no row yet, pending, sending, uncertain
			return Waiting
		}
	}
	return Due
}

// checkChannels validates notify.channels.
func (v *validator) checkChannels(c *Case) {
	seen := map[string]bool{}
	for i, p := range c.Notify.Channels {
		at := fmt.Sprintf("notify.channels[%d]", i)
		switch p.Channel {
		case ChannelEmail, ChannelLetter, ChannelWebhook:
		case "":
			v.at(at+".channel", "required: one of email, letter, webhook")
			continue
		default:
			v.at(at+".channel", "%q is not a channel; use one of: email, letter, webhook", p.Channel)
			continue
		}
		if seen[p.Channel] {
			v.at(at+".channel", "%s is listed twice: list each channel once, in order of preference", p.Channel)
		}
		seen[p.Channel] = true
		for _, w := range p.When {
			switch w {
			case WhenAlways, WhenFallback:
			case WhenRequired:
				if p.Channel != ChannelLetter {
					v.at(at+".when", "required applies to letters only (the laws that ask for written notice); use always or fallback for %s", p.Channel)
				}
			default:
				v.at(at+".when", "%q: use always, required (letters) or fallback", w)
			}
		}
		if i == 0 && len(p.When) > 0 && !slices.Contains(p.When, WhenAlways) && !slices.Contains(p.When, WhenRequired) {
			v.at(at+".when", "the first channel cannot be only a fallback: nothing comes before it (use always)")
		}
		if p.URL != "" {
			if p.Channel != ChannelWebhook {
				v.at(at+".url", "only a webhook channel has a url")
			} else if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				v.at(at+".url", "%q is not an https:// address", p.URL)
			}
		}
		if p.Paper != "" && p.Channel != ChannelLetter {
			v.at(at+".paper", "only a letter channel has a paper size")
		}
		if p.Channel == ChannelLetter {
			switch p.Paper {
			case "", "auto", "a4", "letter":
			default:
				v.at(at+".paper", "%q: use auto (US Letter for the US and Canada, A4 elsewhere), a4 or letter", p.Paper)
			}
			if len(p.ReturnAddress) == 0 {
				v.at(at+".return_address", "required for letters: the organisation's postal address, a line each (printed as the sender)")
			}
			if len(p.ReturnAddress) > 5 {
				v.at(at+".return_address", "%d lines: at most 5 fit above the window", len(p.ReturnAddress))
			}
			for j, l := range p.ReturnAddress {
				if strings.TrimSpace(l) == "" || strings.ContainsAny(l, "\r\n\t") {
					v.at(fmt.Sprintf("%s.return_address[%d]", at, j), "an empty line or one with a line break or tab")
				}
			}
		} else if len(p.ReturnAddress) > 0 {
			v.at(at+".return_address", "only a letter channel has a return address")
		}
	}
	if len(c.Notify.Channels) > 0 && !seen[ChannelEmail] && !seen[ChannelLetter] && !seen[ChannelWebhook] {
		v.at("notify.channels", "no channel: list at least one")
	}
	// Someone must reach the people no law asks a letter for.
	reachesAll := false
	for i, p := range c.Notify.Channels {
		if len(p.When) == 0 || slices.Contains(p.When, WhenAlways) || (i > 0 && slices.Contains(p.When, WhenFallback)) {
			reachesAll = true
		}
	}
	if len(c.Notify.Channels) > 0 && !reachesAll {
		v.at("notify.channels", "no channel reaches everyone: with only required letters, people outside the US with no health data exposed get no notice; "+
			"give one entry when: [always], or a later one when: [fallback]")
	}
}
