package deliver

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-webhook")

func TestWebhookBody(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	p := WebhookPayload{
		MessageID: "<web-cache-test.u00001@notices.example.test>", UserID: "u00001", Locale: "ja-JP", Kind: "update",
		RefersTo: "<web-cache-test.u00001.first@notices.example.test>", Subject: "お知らせ <重要>",
		Text: "We are sorry.\nPart of your account page was shown to another customer.", HTML: "<p>We are sorry &amp; …</p>",
		Date: time.Date(2017, 6, 22, 18, 0, 0, 999, jst),
	}
	want := `{"message_id":"web-cache-test.u00001@notices.example.test","user_id":"u00001","locale":"ja-JP","kind":"update",` +
		`"refers_to":"web-cache-test.u00001.first@notices.example.test","subject":"お知らせ \u003c重要\u003e",` +
		`"text":"We are sorry.\nPart of your account page was shown to another customer.","html":"\u003cp\u003eWe are sorry \u0026amp; …\u003c/p\u003e",` +
		`"date":"2017-06-22T09:00:00Z"}`
	got, err := WebhookBody(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("WebhookBody =\n%s\nwant\n%s", got, want)
	}
	// The same payload, the same bytes (the ledger records their SHA-256).
	again, _ := WebhookBody(p)
	if sha256.Sum256(again) != sha256.Sum256(got) {
		t.Errorf("WebhookBody is not deterministic:\n%s\n%s", got, again)
	}
	var m map[string]any
	if err := json.Unmarshal(got, &m); err != nil || m["refers_to"] == nil || m["date"] != "2017-06-22T09:00:00Z" {
		t.Errorf("decoded body %v (%v)", m, err)
	}

	first := p
	first.RefersTo, first.Kind = "", "first"
	got, err = WebhookBody(first)
	if err != nil || bytes.Contains(got, []byte("refers_to")) {
		t.Errorf("a first notice's body %s (%v): want no refers_to key", got, err)
	}

	for _, tc := range []struct {
		name string
		edit func(*WebhookPayload)
		want string
	}{
		{"no message id", func(p *WebhookPayload) { p.MessageID = "<>" }, "no message id"},
		{"no user id", func(p *WebhookPayload) { p.UserID = "" }, "no user id"},
		{"no date", func(p *WebhookPayload) { p.Date = time.Time{} }, "no date"},
		{"text not UTF-8", func(p *WebhookPayload) { p.Text = "\x93\x8c unknown" }, "text is not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := p
			tc.edit(&q)
			_, err := WebhookBody(q)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("WebhookBody = %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "sorry") || strings.Contains(err.Error(), "\x93") {
				t.Errorf("error %q shows the notice's text", err)
			}
		})
	}
}

func TestVerifyWebhookSignature(t *testing.T) {
	body := []byte(`{"message_id":"a@b","user_id":"u1"}`)
	now := time.Unix(1_800_000_000, 0)
	other := []byte("another secret of at least 32 bytes, not ours")
	good := signWebhook(testSecret, body, now)
	if !strings.HasPrefix(good, "t=1800000000,v1=") || len(good) != len("t=1800000000,v1=")+64 {
		t.Fatalf("signature header %q", good)
	}
	for _, tc := range []struct {
		name      string
		secret    []byte
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		ok        bool
	}{
		{"valid", testSecret, good, body, now, time.Minute, true},
		{"valid, clock a little behind", testSecret, good, body, now.Add(-50 * time.Second), time.Minute, true},
		{"valid, default tolerance", testSecret, good, body, now.Add(4 * time.Minute), 0, true},
		{"spaces, unknown keys and a second v1 (secret rotation)", testSecret,
			"t=1800000000, v0=xyz, v1=" + strings.Repeat("ab", 32) + ", " + strings.TrimPrefix(good, "t=1800000000,"), body, now, time.Minute, true},
		{"wrong secret", other, good, body, now, time.Minute, false},
		{"signed with another secret", testSecret, signWebhook(other, body, now), body, now, time.Minute, false},
		{"body changed", testSecret, good, []byte(`{"message_id":"a@b","user_id":"u2"}`), now, time.Minute, false},
		{"stale timestamp (a replay)", testSecret, good, body, now.Add(61 * time.Second), time.Minute, false},
		{"stale for the default tolerance", testSecret, good, body, now.Add(6 * time.Minute), 0, false},
		{"timestamp in the future", testSecret, good, body, now.Add(-2 * time.Minute), time.Minute, false},
		{"timestamp changed", testSecret, strings.Replace(good, "t=1800000000", "t=1800000001", 1), body, now, time.Minute, false},
		{"no timestamp", testSecret, strings.TrimPrefix(good, "t=1800000000,"), body, now, time.Minute, false},
		{"no signature", testSecret, "t=1800000000", body, now, time.Minute, false},
		{"two timestamps", testSecret, "t=1800000000," + good, body, now, time.Minute, false},
		{"signed timestamp", testSecret, strings.Replace(good, "t=", "t=+", 1), body, now, time.Minute, false},
		{"short v1", testSecret, "t=1800000000,v1=abcd", body, now, time.Minute, false},
		{"empty header", testSecret, "", body, now, time.Minute, false},
		{"short secret", testSecret[:31], signWebhook(testSecret[:31], body, now), body, now, time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyWebhookSignature(tc.secret, tc.header, tc.body, tc.now, tc.tolerance)
			if tc.ok && err != nil {
				t.Fatalf("VerifyWebhookSignature = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrWebhookSignature) {
				t.Fatalf("VerifyWebhookSignature = %v, want ErrWebhookSignature", err)
			}
		})
	}
}
