package notify

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
)

// firstSent is when the earlier notices of the revision tests were sent.
var firstSent = time.Date(2017, 6, 24, 11, 0, 0, 0, time.FixedZone("JST", 9*3600))

// revised builds an update (or, with cur nil, a correction) of the notice
// prev describes: levels map category -> confirmed|possible.
func revised(c *incident.Case, uid string, prev, cur map[string]string, views, viewers int, contact correlate.Contact, sent time.Time) Notice {
	p := notice(c, uid, prev, 0, 0, contact).Account
	if cur == nil {
		n := notice(c, uid, prev, 0, 0, contact)
		n.Run, n.Kind, n.Previous, n.PreviousSentAt, n.RefersTo = 2, store.NoticeCorrection, &p, sent, MessageID(c, uid)
		return n
	}
	n := notice(c, uid, cur, views, viewers, contact)
	n.Run, n.Kind, n.Previous, n.PreviousSentAt, n.RefersTo = 2, store.NoticeUpdate, &p, sent, MessageID(c, uid)
	return n
}

type revisionCase struct {
	name    string
	n       Notice
	locale  string
	jur     []string
	subject string   // the subject starts with it
	listed  []string // categories listed as items in both parts
	advice  []string // categories whose advice the text gives
	contain []string // in the decoded text part
	not     []string // not in the decoded text part
}

func revisionCases(c *incident.Case) []revisionCase {
	ja := correlate.Contact{Email: "taro.yamada@example.jp", Name: "山田 太郎", Locale: "ja", Country: "JP", Region: "JP-13"}
	return []revisionCase{
		// New categories: the earlier notice confirmed name and email; run 2
		// also finds the postal address shown and the bank account possibly.
		{"update_ja_new_jp", revised(c, "1001",
			map[string]string{"name": "confirmed", "email": "confirmed"},
			map[string]string{"name": "confirmed", "email": "confirmed", "postal_address": "confirmed", "bank_account": "possible"}, 4, 3, ja, firstSent),
			"ja", []string{"JP"}, "【続報】", []string{"name", "email", "postal_address", "bank_account"}, []string{"postal_address", "bank_account"},
			[]string{"2017年6月24日付のお知らせにて", "先のお知らせでお伝えした以外のお客様の情報も対象となっていた", "【新たに判明した内容】", "【先のお知らせでお伝えした内容】",
				"表示回数：4回、表示された相手：3名", "氏名、メールアドレスについては、引き続き先のお知らせでお願いした点にご注意ください", "■ 二次被害又はそのおそれの有無及びその内容", "■ その他参考となる事項"},
			[]string{"実際に他のお客様に表示されていた"}},
		// Possible -> confirmed: the earlier notice said the card and the
		// purchase history may have been shown; run 2 confirms the card.
		{"update_ja_confirmed_jp", revised(c, "1002",
			map[string]string{"payment_card": "possible", "purchase_history": "possible"},
			map[string]string{"payment_card": "confirmed", "purchase_history": "possible"}, 1, 1,
			correlate.Contact{Email: "hanako@example.jp", Name: "佐藤 花子", Locale: "ja-JP", Country: "JP", Region: "JP-27"}, firstSent),
			"ja", []string{"JP"}, "【続報】", []string{"payment_card", "purchase_history"}, []string{"payment_card"},
			[]string{"表示されたおそれがあることをご報告いたしましたが", "実際に他のお客様に表示されていたことが判明いたしました", "実際に他のお客様に表示されたことを確認いたしました", "表示回数：1回"},
			[]string{"先のお知らせに記載のなかった"}},
		{"update_en_new_usca", revised(c, "1003",
			map[string]string{"name": "confirmed", "email": "possible"},
			map[string]string{"name": "confirmed", "email": "possible", "government_id": "confirmed", "health": "possible"}, 2, 2,
			correlate.Contact{Email: "jane.roe@example.com", Name: "Jane Roe", Locale: "en_US", Country: "US", Region: "US-CA"}, firstSent),
			"en", []string{"US-CA", "HIPAA"}, "[Update] Notice of Data Breach", []string{"name", "email", "government_id", "health"}, []string{"government_id", "health"},
			[]string{"Notice of Data Breach: Update", "On June 23, 2017, we wrote", "more of your information was involved than we told you then.",
				"which our notice of June 23, 2017 did not mention", "What Information Was Involved", "What You Can Do", "For More Information",
				"not delayed by a law enforcement", "Equifax", "About Your Health Information", "twice (to 2 different people)",
				"about your other information (Name and Email address) still applies"},
			nil},
		// Possible -> confirmed, with the bank account no longer found and
		// the date of the earlier notice unknown.
		{"update_en_confirmed_eu", func() Notice {
			n := revised(c, "1005",
				map[string]string{"credentials": "possible", "date_of_birth": "possible", "bank_account": "possible"},
				map[string]string{"credentials": "confirmed", "date_of_birth": "possible"}, 1, 1,
				correlate.Contact{Email: "max@example.de", Name: "Max <script>alert(1)</script> Mustermann", Locale: "en", Country: "DE", Region: "DE-BE"}, time.Time{})
			return n
		}(),
			"en", []string{"EU"}, "[Update] Example Market K.K.", []string{"credentials", "date_of_birth", "bank_account"}, []string{"credentials"},
			[]string{"Recently, we wrote", "may have been shown to another customer of ours", "was in fact shown to another customer",
				"In our earlier notice, we told you that the following information of yours may have been shown",
				"no longer finds the following information of yours, which our earlier notice listed, involved: Bank account details",
				"Data Protection Officer", "supervisory authority", "once, on June 22, 2017"},
			[]string{"more of your information was involved"}},
		{"correction_ja_jp", revised(c, "1007",
			map[string]string{"name": "confirmed", "phone": "possible"}, nil, 0, 0,
			correlate.Contact{Email: "alex@example.com", Name: "Alex Smith", Locale: "ja", Country: "JP", Region: "JP-13"}, firstSent),
			"ja", []string{"JP"}, "【訂正】", []string{"name", "phone"}, nil,
			[]string{"2017年6月24日付のお知らせにて", "確認されなくなりました", "本件の対象には該当しない", "先のお知らせでお伝えした内容", "ご心配とご迷惑", "お問い合わせ先"},
			[]string{"お客様へのお願い", "■ 原因"}},
		{"correction_en_eu", revised(c, "1006",
			map[string]string{"account_balance": "possible"}, nil, 0, 0,
			correlate.Contact{Email: "aiko@example.fr", Name: "Aiko Martin", Locale: "en", Country: "FR", Region: "FR-75"}, firstSent),
			"en", []string{"EU"}, "[Correction]", []string{"account_balance"}, nil,
			[]string{"On June 24, 2017, we wrote", "may have been shown to another customer of ours. We are writing to correct that notice.", "no longer finds that your information was shown",
				"no longer count you among the customers affected", "apologize for the concern", "Data Protection Officer and Contact Point", "dpo@example-market.jp"},
			[]string{"What You Can Do", "we recommend"}},
	}
}

func TestRenderRevisionGolden(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	for _, tc := range revisionCases(c) {
		t.Run(tc.name, func(t *testing.T) {
			m, err := r.Render(tc.n)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			p := parseMessage(t, m.Raw)
			checkHeaderLines(t, m.Raw)
			if m.Locale != tc.locale || !reflect.DeepEqual(m.Jurisdictions, tc.jur) {
				t.Errorf("locale, jurisdictions = %s, %q; want %s, %q", m.Locale, m.Jurisdictions, tc.locale, tc.jur)
			}
			if m.Kind != tc.n.Kind {
				t.Errorf("Kind = %q, want %q", m.Kind, tc.n.Kind)
			}
			uid := tc.n.Account.UserID
			wantID := UpdateMessageID(c, uid, 2)
			if tc.n.Kind == store.NoticeCorrection {
				wantID = CorrectionMessageID(c, uid, 2)
			}
			h := p.msg.Header
			if h.Get("Message-ID") != wantID || m.MessageID != wantID {
				t.Errorf("Message-ID = %q (Message %q), want %q", h.Get("Message-ID"), m.MessageID, wantID)
			}
			first := MessageID(c, uid)
			if h.Get("In-Reply-To") != first || h.Get("References") != first || m.RefersTo != first {
				t.Errorf("In-Reply-To %q, References %q, RefersTo %q; want the first notice's %q", h.Get("In-Reply-To"), h.Get("References"), m.RefersTo, first)
			}
			if len(h) != 11 {
				t.Errorf("headers = %v, want 11 (a first notice's 9, In-Reply-To, References)", sortedKeys(h))
			}
			if !strings.HasPrefix(p.subject, tc.subject) || !strings.Contains(p.subject, "Example Market K.K.") {
				t.Errorf("Subject = %q, want it to start with %q and name the organization", p.subject, tc.subject)
			}
			text, html := p.parts["text/plain"], p.parts["text/html"]
			if text == "" || html == "" || len(p.parts) != 2 {
				t.Fatalf("parts = %v, want text/plain and text/html", sortedKeys(p.parts))
			}
			labels := r.locales[tc.locale].tmpl.labels
			for _, cat := range tc.listed {
				if label := labels[incident.Category(cat)].Label; !hasItem(text, label, false) || !hasItem(html, label, true) {
					t.Errorf("%q is not listed in both parts", label)
				}
			}
			flat := strings.Join(strings.Fields(text), " ")
			for _, cat := range incident.Categories {
				advised := strings.Contains(flat, labels[cat].Advice)
				want := false
				for _, a := range tc.advice {
					want = want || a == string(cat)
				}
				if advised != want {
					t.Errorf("advice for %s given = %v, want %v", cat, advised, want)
				}
			}
			for _, s := range tc.contain {
				if !strings.Contains(flat, s) {
					t.Errorf("text part lacks %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(flat, s) {
					t.Errorf("text part has %q", s)
				}
			}
			for _, s := range []string{c.Organization.ContactEmail, c.Organization.ContactPhone, c.Organization.Website, tc.n.Contact.Name} {
				if !strings.Contains(text, s) {
					t.Errorf("text part lacks %q", s)
				}
			}
			if strings.Contains(html, "<script>") {
				t.Errorf("HTML part has an unescaped <script>")
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".eml.golden"), m.Raw)
			golden.Check(t, filepath.Join("testdata", tc.name+".golden"), []byte(revisionReadable(m, p)))
		})
	}
}

// revisionReadable is readable with the threading headers.
func revisionReadable(m *Message, p parsed) string {
	s := readable(m, p)
	i := strings.Index(s, "Content-Language:")
	return s[:i] + "In-Reply-To: " + p.msg.Header.Get("In-Reply-To") + "\nReferences: " + p.msg.Header.Get("References") + "\n" + s[i:]
}

// TestRevisedMessageIDs: update and correction Message-IDs are the same on
// every call, and differ from each other, from the first notice's, between
// runs and between people; they carry no user id.
func TestRevisedMessageIDs(t *testing.T) {
	c := loadCase(t)
	seen := map[string]string{}
	for i := 0; i < 2000; i++ {
		uid := fmt.Sprint(i)
		for _, id := range []struct{ what, id string }{
			{"first", MessageID(c, uid)},
			{"update run 2", UpdateMessageID(c, uid, 2)},
			{"update run 3", UpdateMessageID(c, uid, 3)},
			{"correction run 2", CorrectionMessageID(c, uid, 2)},
			{"correction run 3", CorrectionMessageID(c, uid, 3)},
		} {
			what := id.what + " of user " + uid
			if prev, ok := seen[id.id]; ok {
				t.Fatalf("%s and %s share Message-ID %s", prev, what, id.id)
			}
			seen[id.id] = what
			if !strings.HasPrefix(id.id, "<breachctl.web-cache-2017-06.") || !strings.HasSuffix(id.id, "@example-market.jp>") || !isMessageID(id.id) {
				t.Fatalf("%s: Message-ID %q", what, id.id)
			}
		}
	}
	if UpdateMessageID(c, "42", 2) != UpdateMessageID(c, "42", 2) || CorrectionMessageID(c, "42", 2) != CorrectionMessageID(c, "42", 2) {
		t.Errorf("Message-IDs differ between calls")
	}
	if id := UpdateMessageID(c, "user-1234567", 2); strings.Contains(id, "1234567") {
		t.Errorf("UpdateMessageID %q carries the user id", id)
	}

	// Rendering: the kind's Message-ID unless the ledger's is given; the
	// first notice's Message-ID as RefersTo unless one is given.
	r := newRenderer(t, c)
	n := revisionCases(c)[0].n
	n.RefersTo = ""
	m, err := r.Render(n)
	if err != nil {
		t.Fatal(err)
	}
	if m.MessageID != UpdateMessageID(c, "1001", 2) || m.RefersTo != MessageID(c, "1001") {
		t.Errorf("Message-ID %q, RefersTo %q; want %q, %q", m.MessageID, m.RefersTo, UpdateMessageID(c, "1001", 2), MessageID(c, "1001"))
	}
	again, _ := r.Render(n)
	if !bytes.Equal(m.Raw, again.Raw) {
		t.Errorf("two renders of an update differ\n%s", golden.FirstDiff(m.Raw, again.Raw))
	}
	n.MessageID, n.RefersTo = "<breachctl.seeded.update@old-domain.example>", "<breachctl.seeded.first@old-domain.example>"
	if m, err = r.Render(n); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Message-ID: " + n.MessageID, "In-Reply-To: " + n.RefersTo, "References: " + n.RefersTo} {
		if !bytes.Contains(m.Raw, []byte(want+"\r\n")) {
			t.Errorf("message lacks %q", want)
		}
	}
	for _, bad := range []string{"no-brackets@x", "<a@b>\r\nBcc: x@y", "<a@b> <c@d>", n.MessageID} {
		n.RefersTo = bad
		if _, err := r.Render(n); err == nil {
			t.Errorf("RefersTo %q: want an error", bad)
		}
	}
}

// A notice of kind first renders exactly as before: kind "" and "first"
// give the golden files' bytes, with no threading headers, whatever
// Previous and RefersTo hold.
func TestFirstNoticeUnchanged(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	for _, tc := range goldenCases(c) {
		want, err := os.ReadFile(filepath.Join("testdata", tc.name+".eml.golden"))
		if err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{"", store.NoticeFirst} {
			n := tc.n
			n.Kind = kind
			if kind != "" {
				prev := n.Account
				n.Previous, n.PreviousSentAt, n.RefersTo = &prev, firstSent, "<x@y>"
			}
			m, err := r.Render(n)
			if err != nil {
				t.Fatalf("%s, kind %q: %v", tc.name, kind, err)
			}
			if !bytes.Equal(m.Raw, want) {
				t.Errorf("%s, kind %q: differs from the golden file\n%s", tc.name, kind, golden.FirstDiff(want, m.Raw))
			}
			if m.Kind != store.NoticeFirst || m.RefersTo != "" || m.MessageID != MessageID(c, tc.n.Account.UserID) {
				t.Errorf("%s, kind %q: Kind %q, RefersTo %q, Message-ID %q", tc.name, kind, m.Kind, m.RefersTo, m.MessageID)
			}
		}
	}
}

func TestRevisionRefused(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	ct := correlate.Contact{Email: "x@example.com", Locale: "en", Country: "JP"}
	grown := revised(c, "6001", map[string]string{"name": "possible"}, map[string]string{"name": "possible", "phone": "possible"}, 0, 0, ct, firstSent)
	tests := []struct {
		name string
		edit func(n *Notice)
		want string
	}{
		{"unknown kind", func(n *Notice) { n.Kind = "reminder" }, `notice kind "reminder"`},
		{"update without the earlier row", func(n *Notice) { n.Previous = nil }, "needs the row the earlier notice described"},
		{"earlier row of another person", func(n *Notice) { p := *n.Previous; p.UserID = "6002"; n.Previous = &p }, "user 6002's"},
		{"nothing grew", func(n *Notice) { n.Account = *n.Previous }, "nothing grew"},
		{"shrank only", func(n *Notice) {
			n.Account = revised(c, "6001", nil, map[string]string{"name": "possible"}, 0, 0, ct, firstSent).Account
			p := revised(c, "6001", nil, map[string]string{"name": "confirmed", "phone": "possible"}, 0, 0, ct, firstSent).Account
			n.Previous = &p
		}, "nothing grew"},
		{"earlier row without categories", func(n *Notice) { p := *n.Previous; p.Categories, p.CategoryLevels = nil, nil; n.Previous = &p }, "no data category"},
		{"earlier row with an unknown category", func(n *Notice) { p := *n.Previous; p.Categories = []string{"shoe_size"}; n.Previous = &p }, "shoe_size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := grown
			tc.edit(&n)
			_, err := r.Render(n)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render = %v, want an error with %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "6001") || strings.Contains(err.Error(), "x@example.com") {
				t.Errorf("error %q: want the user id and not the address", err)
			}
		})
	}
	if _, err := r.Render(grown); err != nil {
		t.Errorf("the unedited update: %v", err)
	}
	// A correction without Previous is written from Account (the earlier
	// row again), and says the same.
	corr := revisionCases(c)[4].n
	withPrev, err := r.Render(corr)
	if err != nil {
		t.Fatal(err)
	}
	corr.Previous = nil
	without, err := r.Render(corr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(withPrev.Raw, without.Raw) {
		t.Errorf("a correction without Previous differs\n%s", golden.FirstDiff(withPrev.Raw, without.Raw))
	}
}

func TestRevisionTemplatesDir(t *testing.T) {
	c := loadCase(t)
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
		subject string // when set, the en update subject rendered
	}{
		{"update subject replaced", map[string]string{"notice_en.update.subject.tmpl": "Update: {{.Org.Name}} incident"}, "", "Update: Example Market K.K. incident"},
		{"correction text replaced", map[string]string{"notice_ja.correction.txt.tmpl": `{{template "greeting" .}} 訂正 {{template "contact" .}}`}, "", ""},
		{"unknown kind", map[string]string{"notice_en.reminder.txt.tmpl": "x"}, "notice_en.reminder.txt.tmpl is not a template name", ""},
		{"syntax error", map[string]string{"notice_ja.update.html.tmpl": "{{if .Name}"}, "notice_ja.update.html.tmpl", ""},
		{"unknown field", map[string]string{"notice_en.correction.subject.tmpl": "{{.PreviosDay}}"}, "PreviosDay", ""},
		{"block used but missing", map[string]string{"notice_en.update.txt.tmpl": `{{template "nope" .}}`}, `notice_en.update.txt.tmpl: {{template "nope"}} is not defined`, ""},
		{"block defined but unused", map[string]string{"notice_en.correction.html.tmpl": `{{template "contact" .}}{{define "spare"}}x{{end}}`}, `{{define "spare"}} is never used`, ""},
		{"a first-notice block redefined", map[string]string{"notice_en.update.txt.tmpl": `{{template "contact" .}}{{define "contact"}}x{{end}}`}, `{{define "contact"}} is a block of notice_en.txt.tmpl too`, ""},
		{"a first-notice block the update uses removed", map[string]string{"notice_en.txt.tmpl": `{{.Name}}`}, `notice_en.update.txt.tmpl: {{template "cause"}} is not defined (it can call its own blocks and those notice_en.txt.tmpl defines)`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r, err := NewRenderer(c, Options{TemplatesDir: dir, Date: fixedDate})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("NewRenderer = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRenderer: %v", err)
			}
			if tc.subject != "" {
				m, err := r.Render(revisionCases(c)[3].n)
				if err != nil {
					t.Fatal(err)
				}
				if got := parseMessage(t, m.Raw).subject; got != tc.subject {
					t.Errorf("subject = %q, want %q", got, tc.subject)
				}
			}
		})
	}
}
