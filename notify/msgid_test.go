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
