package deliver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The webhook's wire format, for the company's receiving service: see the
// package comment.
const (
	// WebhookSignatureHeader carries "t=<unix seconds>,v1=<hex HMAC>".
	WebhookSignatureHeader = "Breachctl-Signature"
	// MinWebhookSecret is the shortest secret accepted, in bytes.
	MinWebhookSecret = 32
	// DefaultWebhookTolerance is how far a signature's timestamp may be
	// from the receiver's clock when VerifyWebhookSignature is given no
	// tolerance.
	DefaultWebhookTolerance = 5 * time.Minute
)

// ErrWebhookSignature is returned (wrapped) by VerifyWebhookSignature.
var ErrWebhookSignature = errors.New("webhook signature not valid")

// WebhookPayload is what one in-app notice says. It holds the person's
// notice (personal data): it goes only into the request body, never into
// logs or errors.
type WebhookPayload struct {
	MessageID string // the ledger's Message-ID; sent without angle brackets
	UserID    string // the notice's user id, as in the ledger (the person's id in the company's service)
	Locale    string
	Kind      string // first, update or correction (store.NoticeFirst ...)
	RefersTo  string // an update's or correction's first notice (Message-ID); omitted when empty
	Subject   string
	Text      string
	HTML      string
	Date      time.Time // the notice's date; sent as RFC 3339 in UTC, to the second
}

// webhookJSON is the body's JSON object; its field order is the bytes'.
type webhookJSON struct {
	MessageID string `json:"message_id"`
	UserID    string `json:"user_id"`
	Locale    string `json:"locale"`
	Kind      string `json:"kind"`
	RefersTo  string `json:"refers_to,omitempty"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	HTML      string `json:"html"`
	Date      string `json:"date"`
}

// WebhookBody is the request body of an in-app notice (Message.Raw for the
// webhook channel): a JSON object with the keys message_id, user_id,
// locale, kind, refers_to (omitted when empty), subject, text, html and
// date. The same payload always gives the same bytes: the ledger records
// their SHA-256, and a resend after a doubt sends them again unchanged.
// Message-IDs are written without angle brackets, as the Idempotency-Key.
func WebhookBody(p WebhookPayload) ([]byte, error) {
	j := webhookJSON{
		MessageID: normID(p.MessageID), UserID: p.UserID, Locale: p.Locale, Kind: p.Kind,
		RefersTo: normID(p.RefersTo), Subject: p.Subject, Text: p.Text, HTML: p.HTML,
	}
	switch {
	case j.MessageID == "":
		return nil, errors.New("webhook body: no message id")
	case j.UserID == "":
		return nil, fmt.Errorf("webhook body for message %s: no user id", j.MessageID)
	case p.Date.IsZero():
		return nil, fmt.Errorf("webhook body for user %s: no date", j.UserID)
	}
	for _, f := range []struct{ name, v string }{
		{"message_id", j.MessageID}, {"user_id", j.UserID}, {"locale", j.Locale}, {"kind", j.Kind},
		{"refers_to", j.RefersTo}, {"subject", j.Subject}, {"text", j.Text}, {"html", j.HTML},
	} {
		// json.Marshal would replace the bytes silently.
		if !utf8.ValidString(f.v) {
			return nil, fmt.Errorf("webhook body for user %s: %s is not valid UTF-8", j.UserID, f.name)
		}
	}
	j.Date = p.Date.UTC().Format(time.RFC3339)
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("webhook body for user %s: %w", j.UserID, err)
	}
	return b, nil
}

// signWebhook is the Breachctl-Signature value of body at t.
func signWebhook(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(webhookMAC(secret, ts, body))
}

// webhookMAC is HMAC-SHA256(secret, "<t>.<body>").
func webhookMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhookSignature checks a Breachctl-Signature header against the
// request body as received (the raw bytes, before any JSON decoding): one
// of its v1 values must be HMAC-SHA256(secret, "<t>.<body>"), compared in
// constant time, and t (Unix seconds) within tolerance of now either way
// (DefaultWebhookTolerance when tolerance is 0 or less), so that a recorded
// request cannot be replayed later. Several v1 values are allowed (one per
// secret while a secret is being changed); other keys are ignored. The
// error wraps ErrWebhookSignature.
//
// A valid signature proves the request came from breachctl, not that it
// came once: the receiver must also deduplicate by Idempotency-Key.
func VerifyWebhookSignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) < MinWebhookSecret {
		return fmt.Errorf("%w: the secret is %d bytes, want at least %d", ErrWebhookSignature, len(secret), MinWebhookSecret)
	}
	if tolerance <= 0 {
		tolerance = DefaultWebhookTolerance
	}
	var (
		ts   string
		sigs [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("%w: malformed header", ErrWebhookSignature)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: more than one timestamp", ErrWebhookSignature)
			}
			if _, err := strconv.ParseInt(v, 10, 64); err != nil || v == "" || v[0] == '+' || v[0] == '-' {
				return fmt.Errorf("%w: malformed timestamp", ErrWebhookSignature)
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: malformed v1 signature", ErrWebhookSignature)
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=<unix seconds>,v1=<hex HMAC-SHA256>", ErrWebhookSignature)
	}
	want := webhookMAC(secret, ts, body)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return fmt.Errorf("%w: no v1 signature matches the body", ErrWebhookSignature)
	}
	secs, _ := strconv.ParseInt(ts, 10, 64)
	if d := now.Sub(time.Unix(secs, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is %v away from now, beyond the tolerance of %v (a replay, or a clock off)",
			ErrWebhookSignature, ts, d.Round(time.Second), tolerance)
	}
	return nil
}
