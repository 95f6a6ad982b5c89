package notify

import (
	"bytes"
	"testing"
)

// TestMessageIDOverride: a notice renders under the Message-ID it is given
// (the delivery ledger's); one that could break the header is refused.
func TestMessageIDOverride(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	n := goldenCases(c)[0].n
	n.MessageID = "<breachctl.seeded-earlier.abc@old-domain.example>"
	m, err := r.Render(n)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID != n.MessageID || !bytes.Contains(m.Raw, []byte("Message-ID: "+n.MessageID)) {
		t.Errorf("Message-ID %q; want the given %q in the message", m.MessageID, n.MessageID)
	}
	for _, bad := range []string{"no-brackets@x", "<a@b>\r\nBcc: x@y"} {
		n.MessageID = bad
		if _, err := r.Render(n); err == nil {
			t.Errorf("Message-ID %q: want an error", bad)
		}
	}
}

// TestLawEnforcementStatement: notices say whether they were delayed by law
// enforcement only when the case file states it.
func TestLawEnforcementStatement(t *testing.T) {
	for _, tc := range []struct {
		setting, want, not string
	}{
		{"no", "not delayed by a law enforcement", "was delayed because"},
		{"yes", "was delayed because a law enforcement agency", "not delayed by"},
		{"", "", "law enforcement"},
	} {
		c := loadCase(t)
		c.Notify.LawEnforcementDelay = tc.setting
		r := newRenderer(t, c)
		var n Notice
		for _, g := range goldenCases(c) {
			if g.name == "en_confirmed_usca" {
				n = g.n
			}
		}
		m, err := r.Render(n)
		if err != nil {
			t.Fatal(err)
		}
		p := parseMessage(t, m.Raw)
		text := p.parts["text/plain"]
		if tc.want != "" && !bytes.Contains([]byte(text), []byte(tc.want)) {
			t.Errorf("law_enforcement_delay %q: text lacks %q", tc.setting, tc.want)
		}
		if bytes.Contains([]byte(text), []byte(tc.not)) {
			t.Errorf("law_enforcement_delay %q: text has %q", tc.setting, tc.not)
		}
	}
}
