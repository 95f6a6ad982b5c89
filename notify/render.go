// Package notify renders the apology and disclosure notice each affected
// person receives: one RFC 5322 message per person, in their language, with
// the sections their jurisdiction asks for, written to an outbox from which
// notify/deliver sends.
package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
)

// Options configures a Renderer.
type Options struct {
	// TemplatesDir, when set, holds files that replace embedded templates of
	// the same name (notice_<locale>.<subject|txt|html|labels>.tmpl, and
	// notice_<locale>.<update|correction>.<subject|txt|html>.tmpl for update
	// and correction notices). A file there that is no template's name is an
	// error.
	TemplatesDir string
	// Date is the Date header and the notice date in the body; the current
	// time when zero. Fix it for byte-identical re-renders.
	Date time.Time
}

// Notice is one affected account with its contact details.
type Notice struct {
	Run int
	// Account is the person's affected row in Run. A correction has none
	// (the person is no longer affected): Account is then the row the
	// earlier notice described again, like Previous.
	Account store.AffectedAccount
	Contact correlate.Contact
	// MessageID, when set, is used instead of the kind's deterministic one
	// (MessageID, UpdateMessageID, CorrectionMessageID): the delivery
	// ledger's, so a notice keeps the Message-ID it was seeded with even if
	// notify.from changed since.
	MessageID string

	// Kind is store.NoticeFirst ("" means it too), store.NoticeUpdate (a
	// later run found more of the person exposed than they were told) or
	// store.NoticeCorrection (a later run no longer finds them affected).
	Kind string
	// Previous is, for an update or a correction, the affected row the
	// person's previous sent notice described: what they were told. A
	// correction without it is written from Account.
	Previous *store.AffectedAccount
	// PreviousSentAt is when that notice was sent; the notice names its
	// date ("our notice of ...") when set.
	PreviousSentAt time.Time
	// RefersTo is the Message-ID (with angle brackets) of the first notice
	// an update or a correction follows: its In-Reply-To and References.
	// MessageID(case, user) when empty.
	RefersTo string
	// Channel is the ledger channel the notice is rendered for:
	// store.ChannelEmail ("" means it too) needs a usable e-mail address
	// and gives an RFC 5322 message; a letter needs a postal address and
	// a webhook (in-app) message neither: both give Parts instead of Raw.
	Channel string
}

// Parts are a notice's rendered parts, for the channels other than
// e-mail. Name and Address are personal data: they go on the letter and
// nowhere else.
type Parts struct {
	Subject string
	Text    []byte // the e-mail's text part (wrapped)
	Plain   []byte // the same text with a line per paragraph, for letters to wrap
	HTML    []byte
	Date    string // the notice date, formatted in the person's language
	Name    string
	Address []string // postal address lines (letters)
	Country string
}

// Message is one rendered notice.
type Message struct {
	UserID        string
	Locale        string
	Jurisdictions []string  // JP, US-CA, US, EU; plus HIPAA when health data was involved
	MessageID     string    // with angle brackets, as in the header
	Kind          string    // store.NoticeFirst, NoticeUpdate or NoticeCorrection
	RefersTo      string    // update, correction: the first notice's Message-ID (In-Reply-To, References)
	EnvelopeFrom  string    // bare address
	To            string    // bare address
	Raw           []byte    // the whole message, CRLF line endings (e-mail)
	Date          time.Time // the Date header
	Parts         *Parts    // letters and in-app messages
}

// RecipientError says a person cannot be sent a notice (an unusable address
// or name). It names the user id and the reason only, never the address or
// name, so it can be logged and stored.
type RecipientError struct {
	UserID string
	Reason string
}

func (e *RecipientError) Error() string {
	return "notice for user " + quoteID(e.UserID) + ": " + e.Reason
}

func quoteID(id string) string {
	for _, r := range id {
		if r <= ' ' || r == '"' || r == 0x7f || r > '~' {
			return strconv.Quote(id)
		}
	}
	return id
}

// Jurisdiction codes in Message.Jurisdictions.
const (
	JurJP    = "JP"
	JurUSCA  = "US-CA"
	JurUS    = "US"
	JurEU    = "EU"
	JurHIPAA = "HIPAA"
	JurUK    = "UK" // UK GDPR: the EU form's items, the ICO
	JurKR    = "KR" // PIPA Art. 34
	JurBR    = "BR" // LGPD Art. 48
)

// Renderer renders notices for one case. It is safe for concurrent use.
type Renderer struct {
	c             *incident.Case
	date          time.Time
	dateHeader    string
	from          *mail.Address
	replyTo       *mail.Address
	domain        string
	defaultLocale string
	locales       map[string]*localeSet
	files         []string // the template files in use, sorted
	zones         sync.Map // country + "/" + region -> *time.Location
}

type localeSet struct {
	name      string
	tmpl      *parsedLocale
	format    formatter
	narrative incident.Narrative
	wrap      int         // text part width; 0: not wrapped (Japanese has no spaces to wrap at)
	paras     [3][]string // narrative cause, measures, consequences in paragraphs
}

// NewRenderer parses the notice templates once (embedded, with overrides
// from opts.TemplatesDir) and checks that each renders for every
// jurisdiction, so a broken template fails here and not halfway through.
func NewRenderer(c *incident.Case, opts Options) (*Renderer, error) {
	if c == nil {
		return nil, errors.New("notify: no case")
	}
	src, locales, err := noticeSources(opts.TemplatesDir)
	if err != nil {
		return nil, err
	}
	r := &Renderer{c: c, date: opts.Date, locales: map[string]*localeSet{}, domain: messageIDDomain(c)}
	if r.date.IsZero() {
		r.date = time.Now()
	}
	r.date = r.date.In(caseLocation(c))
	r.dateHeader = r.date.Format(time.RFC1123Z)
	from := c.Notify.From
	if from == "" {
		from = (&mail.Address{Name: c.Organization.Name, Address: c.Organization.ContactEmail}).String()
	}
	if r.from, err = incident.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("notify.from: %w", err)
	}
	if c.Notify.ReplyTo != "" {
		if r.replyTo, err = incident.ParseAddress(c.Notify.ReplyTo); err != nil {
			return nil, fmt.Errorf("notify.reply_to: %w", err)
		}
	}
	for _, a := range []*mail.Address{r.from, r.replyTo} {
		if a != nil && (!isASCII(a.Address) || badText(a.Name) != "") {
			return nil, errors.New("notify.from / notify.reply_to: the address must be ASCII and the name free of control characters")
		}
	}
	for _, loc := range locales {
		f := formatterFor(loc)
		p, err := parseLocale(loc, src, templateFuncs(f))
		if err != nil {
			return nil, fmt.Errorf("notice templates: %w", err)
		}
		n := c.NarrativeFor(loc)
		r.locales[loc] = &localeSet{name: loc, tmpl: p, format: f, narrative: n, wrap: textWidth(loc),
			paras: [3][]string{paragraphs(n.Cause), paragraphs(n.Measures), paragraphs(n.Consequences)}}
	}
	r.files = sortedKeys(src)
	r.defaultLocale = c.Notify.DefaultLocale
	if r.defaultLocale == "" {
		r.defaultLocale = "en"
	}
	if r.locales[r.defaultLocale] == nil {
		return nil, fmt.Errorf("notify.default_locale %q has no notice templates (have %s)", r.defaultLocale, strings.Join(locales, ", "))
	}
	if err := r.dryRun(); err != nil {
		return nil, err
	}
	return r, nil
}

func caseLocation(c *incident.Case) *time.Location {
	if c.Location != nil {
		return c.Location
	}
	return time.UTC
}

// Locales returns the locales notices can be written in.
func (r *Renderer) Locales() []string { return sortedKeys(r.locales) }

// dryRun renders every locale's templates, of every notice kind, for every
// jurisdiction and level with every category, with made-up data.
func (r *Renderer) dryRun() error {
	var all []string
	for _, c := range incident.Categories {
		all = append(all, string(c))
	}
	half := map[string]string{}
	for i, c := range all {
		half[c] = map[bool]string{true: "confirmed", false: "possible"}[i%2 == 0]
	}
	levels, _ := json.Marshal(half)
	places := [][2]string{{"JP", "JP-13"}, {"US", "US-CA"}, {"US", "US-NY"}, {"DE", "DE-BE"}, {"GB", "GB-LND"}, {"KR", "KR-11"}, {"BR", "BR-SP"}, {"", ""}}
	for _, loc := range r.Locales() {
		for _, pl := range places {
			for _, lv := range []string{"confirmed", "possible"} {
				a := store.AffectedAccount{UserID: "dry-run", Level: lv, Categories: all, Views: 2, Viewers: 2,
					Country: pl[0], Region: pl[1], Locale: loc}
				a.FirstExposed.Time, a.FirstExposed.Valid = r.c.Start, lv == "confirmed"
				a.LastExposed.Time, a.LastExposed.Valid = r.c.End, lv == "confirmed"
				if lv == "confirmed" {
					a.CategoryLevels = levels
				}
				n := Notice{Account: a, Contact: correlate.Contact{Email: "dry-run@example.com", Name: "<Dry Run>"}}
				if _, err := r.render(n, false); err != nil {
					return fmt.Errorf("notice templates (%s, %s, %s): %w", loc, pl[1], lv, err)
				}
				// An update from a notice that named half the categories,
				// all possible (the notice's date known when confirmed),
				// and a correction of this notice.
				p := store.AffectedAccount{UserID: a.UserID, Level: "possible", Categories: all[:len(all)/2],
					Country: a.Country, Region: a.Region, Locale: loc}
				n.Kind, n.Previous, n.Run = store.NoticeUpdate, &p, 2
				if lv == "confirmed" {
					n.PreviousSentAt = r.c.End.Add(72 * time.Hour)
				}
				if _, err := r.render(n, false); err != nil {
					return fmt.Errorf("update notice templates (%s, %s, %s): %w", loc, pl[1], lv, err)
				}
				n.Kind, n.Previous = store.NoticeCorrection, nil
				if _, err := r.render(n, false); err != nil {
					return fmt.Errorf("correction notice templates (%s, %s, %s): %w", loc, pl[1], lv, err)
				}
				if lv == "confirmed" {
					// An update from a notice that said some was shown: one
					// category withdrawn, one newly confirmed, one the same.
					p := store.AffectedAccount{UserID: a.UserID, Level: "confirmed", Categories: all[:3],
						CategoryLevels: json.RawMessage(`{"` + all[0] + `":"confirmed","` + all[1] + `":"possible","` + all[2] + `":"confirmed"}`)}
					n.Kind, n.Previous, n.PreviousSentAt = store.NoticeUpdate, &p, time.Time{}
					n.Account.Categories, n.Account.CategoryLevels = all[1:], nil
					if _, err := r.render(n, false); err != nil {
						return fmt.Errorf("update notice templates (%s, %s, %s, earlier notice confirmed): %w", loc, pl[1], lv, err)
					}
				}
			}
		}
	}
	return nil
}

// categoryView is a data category as templates see it.
type categoryView struct {
	Code      string
	Label     string
	Advice    string
	Confirmed bool
}

// noticeView is what the notice templates are executed with. Times are in
// the recipient's time zone; the ...At, Window and NoticeDay strings are
// those times already formatted for the locale (the functions date,
// datetime, period, num, list and paras format others).
type noticeView struct {
	Locale    string
	Name      string // the recipient's name; empty when unknown
	Org       incident.Organization
	CaseID    string
	Narrative incident.Narrative
	// The narrative split into paragraphs (for HTML).
	CauseParas, MeasuresParas, ConsequencesParas []string

	NoticeDate, Start, End, Aware, Contained time.Time
	HasContained                             bool
	NoticeDay                                string // date of the notice
	Window                                   string // the declared window, Start to End
	AwareAt, ContainedAt                     string

	// Confirmed: some of their data was shown to another party.
	Confirmed                 bool
	Views, Viewers            int
	FirstExposed, LastExposed time.Time
	HasExposureTimes          bool
	FirstAt, LastAt           string

	Categories          []categoryView // every category involved, confirmed or possible
	ConfirmedCategories []categoryView
	PossibleCategories  []categoryView
	CategoryList        string // the labels of Categories as a sentence list

	JP, US, USCA, EU, HIPAA bool
	UK, KR, BR              bool
	// GDPR: the EU's or the UK's (the same Art. 34 items).
	GDPR         bool
	GovernmentID bool // credit bureau contacts (US)
	// LawEnforcementDelay is the case file's notify.law_enforcement_delay:
	// "no", "yes", or "" (not stated: the notice says nothing about it).
	LawEnforcementDelay string
	Jurisdictions       []string

	// Kind is the notice kind (store.NoticeFirst, NoticeUpdate,
	// NoticeCorrection). In an update, Confirmed, Views and the category
	// lists above are what is known now; in a correction, what the earlier
	// notice said (the person is no longer found affected).
	Kind string
	// What the earlier notice said (update, correction): its categories,
	// and whether it said some of them were shown (PrevConfirmed) or only
	// that they may have been.
	PrevConfirmed                                                   bool
	PrevCategories, PrevConfirmedCategories, PrevPossibleCategories []categoryView
	PrevCategoryList                                                string
	// When the earlier notice was sent, and that date formatted;
	// HasPreviousSent is false when it is not known (the notice then says
	// "our earlier notice").
	PreviousSent    time.Time
	HasPreviousSent bool
	PreviousDay     string
	// What is new (update): categories the earlier notice did not list
	// (NewCategories, split by their level now), categories it called
	// possible that are now confirmed (UpgradedCategories), the two together
	// in category order (ChangedCategories: the advice list), categories it
	// listed that are unchanged or now less certain (SameCategories), and
	// categories it listed that are no longer found (WithdrawnCategories).
	// Upgraded: the earlier notice said only "may have been shown", and now
	// some of their information was shown.
	NewCategories, NewConfirmedCategories, NewPossibleCategories []categoryView
	UpgradedCategories, ChangedCategories                        []categoryView
	SameCategories, WithdrawnCategories                          []categoryView
	Upgraded                                                     bool
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Render renders one person's notice. A recipient whose address or name
// cannot be used gives a *RecipientError (see Outbox.Reject); any other
// error is a fault of the data or templates.
func (r *Renderer) Render(n Notice) (*Message, error) {
	return r.render(n, true)
}

// render renders a notice; without mime it stops once the templates have
// run (the dry run checks the templates, not the MIME writer), and the
// message has no Raw.
func (r *Renderer) render(n Notice, mime bool) (*Message, error) {
	a := &n.Account
	uid := a.UserID
	if reason := badUserID(uid); reason != "" {
		return nil, &RecipientError{UserID: uid, Reason: reason}
	}
	if n.Contact.ID != "" && n.Contact.ID != uid {
		return nil, fmt.Errorf("notice for user %s: the contact record is user %s's", quoteID(uid), quoteID(n.Contact.ID))
	}
	channel := n.Channel
	if channel == "" {
		channel = store.ChannelEmail
	}
	var to, reason string
	var address []string
	switch channel {
	case store.ChannelEmail:
		if to, reason = checkEmail(n.Contact.Email); reason != "" {
			return nil, &RecipientError{UserID: uid, Reason: reason}
		}
	case store.ChannelLetter:
		if address, reason = checkPostal(n.Contact); reason != "" {
			return nil, &RecipientError{UserID: uid, Reason: reason}
		}
	case store.ChannelWebhook:
	default:
		return nil, fmt.Errorf("notice for user %s: unknown channel %q", quoteID(uid), channel)
	}
	name := strings.TrimSpace(n.Contact.Name)
	if reason := badText(name); reason != "" {
		return nil, &RecipientError{UserID: uid, Reason: "name " + reason}
	}
	if utf8.RuneCountInString(name) > 200 {
		return nil, &RecipientError{UserID: uid, Reason: "name is longer than 200 characters"}
	}

	kind, prev, err := noticeKind(&n)
	if err != nil {
		return nil, fmt.Errorf("notice for user %s: %w", quoteID(uid), err)
	}
	// shown is the row the notice describes: a correction describes what
	// the earlier notice said.
	shown := a
	if kind == store.NoticeCorrection {
		shown = prev
	}
	ls := r.locales[r.pickLocale(firstNonEmpty(n.Contact.Locale, a.Locale))]
	country := strings.ToUpper(strings.TrimSpace(firstNonEmpty(n.Contact.Country, a.Country)))
	region := strings.ToUpper(strings.TrimSpace(firstNonEmpty(n.Contact.Region, a.Region)))
	if country == "" && len(region) > 3 && region[2] == '-' {
		country = region[:2]
	}
	v := &noticeView{Locale: ls.name, Name: name, Org: r.c.Organization, CaseID: r.c.ID, Narrative: ls.narrative,
		Views: shown.Views, Viewers: shown.Viewers, LawEnforcementDelay: r.c.Notify.LawEnforcementDelay, Kind: kind}
	if err := r.categories(v, shown, ls); err != nil {
		return nil, fmt.Errorf("notice for user %s: %w", quoteID(uid), err)
	}
	if len(v.Categories) == 0 {
		return nil, &RecipientError{UserID: uid, Reason: "no exposed data category recorded for this account"}
	}
	switch {
	case country == "JP":
		v.JP = true
		v.Jurisdictions = append(v.Jurisdictions, JurJP)
	case region == "US-CA":
		v.US, v.USCA = true, true
		v.Jurisdictions = append(v.Jurisdictions, JurUSCA)
	case country == "US":
		v.US = true
		v.Jurisdictions = append(v.Jurisdictions, JurUS)
	case incident.EUCountries[country]:
		v.EU, v.GDPR = true, true
		v.Jurisdictions = append(v.Jurisdictions, JurEU)
	case country == "GB":
		v.UK, v.GDPR = true, true
		v.Jurisdictions = append(v.Jurisdictions, JurUK)
	case country == "KR":
		v.KR = true
		v.Jurisdictions = append(v.Jurisdictions, JurKR)
	case country == "BR":
		v.BR = true
		v.Jurisdictions = append(v.Jurisdictions, JurBR)
	}
	for _, c := range v.Categories {
		switch incident.Category(c.Code) {
		case incident.CatHealth:
			v.HIPAA = true
		case incident.CatGovernmentID:
			v.GovernmentID = true
		}
	}
	if v.HIPAA {
		v.Jurisdictions = append(v.Jurisdictions, JurHIPAA)
	}

	zone := r.zoneFor(country, region)
	v.NoticeDate, v.Start, v.End, v.Aware = r.date.In(zone), r.c.Start.In(zone), r.c.End.In(zone), r.c.Aware.In(zone)
	if !r.c.Contain.IsZero() {
		v.Contained, v.HasContained = r.c.Contain.In(zone), true
	}
	v.Confirmed = len(v.ConfirmedCategories) > 0
	if v.Confirmed && shown.FirstExposed.Valid && shown.LastExposed.Valid {
		v.FirstExposed, v.LastExposed, v.HasExposureTimes = shown.FirstExposed.Time.In(zone), shown.LastExposed.Time.In(zone), true
	}
	f := ls.format
	v.NoticeDay, v.Window, v.AwareAt = f.Date(v.NoticeDate), f.Period(v.Start, v.End), f.DateTime(v.Aware)
	if v.HasContained {
		v.ContainedAt = f.DateTime(v.Contained)
	}
	if v.HasExposureTimes {
		v.FirstAt, v.LastAt = f.DateTime(v.FirstExposed), f.DateTime(v.LastExposed)
	}
	v.CategoryList = f.List(labelsOf(v.Categories))
	v.CauseParas, v.MeasuresParas, v.ConsequencesParas = ls.paras[0], ls.paras[1], ls.paras[2]
	if prev != nil {
		if err := r.revision(v, prev, ls); err != nil {
			return nil, fmt.Errorf("%s notice for user %s: %w", kind, quoteID(uid), err)
		}
		if !n.PreviousSentAt.IsZero() {
			v.PreviousSent, v.HasPreviousSent = n.PreviousSentAt.In(zone), true
			v.PreviousDay = f.Date(v.PreviousSent)
		}
	}
	set := ls.tmpl.notices[kind]

	subj := bufPool.Get().(*bytes.Buffer)
	text := bufPool.Get().(*bytes.Buffer)
	html := bufPool.Get().(*bytes.Buffer)
	tidy := bufPool.Get().(*bytes.Buffer)
	defer func() {
		for _, b := range []*bytes.Buffer{subj, text, html, tidy} {
			b.Reset()
			bufPool.Put(b)
		}
	}()
	if err := set.subject.Execute(subj, v); err != nil {
		return nil, fmt.Errorf("notice for user %s: %w", quoteID(uid), err)
	}
	if err := set.text.Execute(text, v); err != nil {
		return nil, fmt.Errorf("notice for user %s: %w", quoteID(uid), err)
	}
	if err := set.html.Execute(html, v); err != nil {
		return nil, fmt.Errorf("notice for user %s: %w", quoteID(uid), err)
	}
	subject := strings.Join(strings.Fields(subj.String()), " ")
	if subject == "" {
		return nil, fmt.Errorf("notice for user %s: %s renders an empty subject", quoteID(uid), set.subjectFile)
	}

	msgID := n.MessageID
	switch {
	case msgID == "" && kind != store.NoticeFirst:
		msgID = revisedMessageID(r.c.ID, r.domain, kind, uid, n.Run)
	case msgID == "":
		msgID = r.messageID(uid)
	case badText(msgID) != "" || !strings.HasPrefix(msgID, "<") || !strings.HasSuffix(msgID, ">"):
		return nil, fmt.Errorf("notice for user %s: Message-ID %q is not <...>", quoteID(uid), msgID)
	}
	var refersTo string
	if kind != store.NoticeFirst {
		refersTo = n.RefersTo
		switch {
		case refersTo == "":
			refersTo = r.messageID(uid)
		case !isMessageID(refersTo):
			return nil, fmt.Errorf("%s notice for user %s: the first notice's Message-ID %q (RefersTo) is not <...>", kind, quoteID(uid), refersTo)
		case refersTo == msgID:
			return nil, fmt.Errorf("%s notice for user %s: its Message-ID is the first notice's (RefersTo); an %s needs its own", kind, quoteID(uid), kind)
		}
	}
	m := &Message{UserID: uid, Date: r.date, Locale: ls.name, Jurisdictions: v.Jurisdictions, MessageID: msgID,
		EnvelopeFrom: r.from.Address, To: to, Kind: kind, RefersTo: refersTo}
	if m.Jurisdictions == nil {
		m.Jurisdictions = []string{}
	}
	if !mime {
		return m, nil
	}
	if channel != store.ChannelEmail {
		m.EnvelopeFrom = ""
		m.Parts = &Parts{Subject: subject, Text: tidyText(nil, text.Bytes(), ls.wrap), Plain: tidyText(nil, text.Bytes(), 0),
			HTML: bytes.Clone(html.Bytes()), Date: v.NoticeDay, Name: name, Address: address, Country: country}
		return m, nil
	}
	raw, err := r.build(m, name, subject, tidyText(tidy.AvailableBuffer(), text.Bytes(), ls.wrap), html.Bytes())
	if err != nil {
		return nil, fmt.Errorf("notice for user %s: %w", quoteID(uid), err)
	}
	m.Raw = raw
	return m, nil
}

// checkPostal returns the lines of a person's postal address for a letter,
// or why there is none that can be printed (no personal data in it).
func checkPostal(c correlate.Contact) ([]string, string) {
	if !c.HasPostal {
		return nil, "users_query returns no postal_address column: add it to write letters"
	}
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(c.PostalAddress, "\r\n", "\n"), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if reason := badText(l); reason != "" {
			return nil, "postal address " + reason
		}
		if utf8.RuneCountInString(l) > 60 {
			return nil, "postal address has a line longer than 60 characters"
		}
		lines = append(lines, l)
	}
	switch {
	case len(lines) == 0:
		return nil, "no postal address on file"
	case len(lines) > 7:
		return nil, "postal address has more than 7 lines (with the name, at most 8 fit the envelope window)"
	}
	return lines, ""
}

// isMessageID reports whether s can go into an In-Reply-To or References
// header as it is: one <...> with no space, angle bracket or control
// character inside.
func isMessageID(s string) bool {
	return badText(s) == "" && len(s) > 2 && strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") &&
		!strings.ContainsAny(s[1:len(s)-1], "<> \t")
}

// noticeKind checks a notice's kind and returns it with the row the
// person's earlier notice described (nil for a first notice).
func noticeKind(n *Notice) (string, *store.AffectedAccount, error) {
	kind := n.Kind
	if kind == "" {
		kind = store.NoticeFirst
	}
	var prev *store.AffectedAccount
	switch kind {
	case store.NoticeFirst:
		return kind, nil, nil
	case store.NoticeUpdate:
		if n.Previous == nil {
			return "", nil, errors.New("an update notice needs the row the earlier notice described (Previous)")
		}
		prev = n.Previous
	case store.NoticeCorrection:
		prev = n.Previous
		if prev == nil {
			prev = &n.Account
		}
	default:
		return "", nil, fmt.Errorf("notice kind %q, want %s, %s or %s", n.Kind, store.NoticeFirst, store.NoticeUpdate, store.NoticeCorrection)
	}
	if prev.UserID != "" && prev.UserID != n.Account.UserID {
		return "", nil, fmt.Errorf("the earlier notice's row (Previous) is user %s's", quoteID(prev.UserID))
	}
	return kind, prev, nil
}

// revision fills what an update or a correction says about the earlier
// notice: what it said, and for an update what is new since. An update
// with nothing new is an error: it would tell the person nothing.
func (r *Renderer) revision(v *noticeView, prev *store.AffectedAccount, ls *localeSet) error {
	var pv noticeView
	if err := r.categories(&pv, prev, ls); err != nil {
		return fmt.Errorf("the earlier notice's row: %w", err)
	}
	if len(pv.Categories) == 0 {
		return errors.New("the earlier notice's row (Previous) has no data category")
	}
	v.PrevCategories, v.PrevConfirmedCategories, v.PrevPossibleCategories = pv.Categories, pv.ConfirmedCategories, pv.PossibleCategories
	v.PrevConfirmed = len(pv.ConfirmedCategories) > 0
	v.PrevCategoryList = ls.format.List(labelsOf(pv.Categories))
	if v.Kind != store.NoticeUpdate {
		return nil
	}
	was := map[string]bool{} // category -> the earlier notice called it confirmed
	for _, c := range pv.Categories {
		was[c.Code] = c.Confirmed
	}
	now := map[string]bool{}
	for _, c := range v.Categories {
		now[c.Code] = true
		confirmed, listed := was[c.Code]
		switch {
		case !listed:
			v.NewCategories = append(v.NewCategories, c)
			if c.Confirmed {
				v.NewConfirmedCategories = append(v.NewConfirmedCategories, c)
			} else {
				v.NewPossibleCategories = append(v.NewPossibleCategories, c)
			}
			v.ChangedCategories = append(v.ChangedCategories, c)
		case c.Confirmed && !confirmed:
			v.UpgradedCategories = append(v.UpgradedCategories, c)
			v.ChangedCategories = append(v.ChangedCategories, c)
		default:
			v.SameCategories = append(v.SameCategories, c)
		}
	}
	for _, c := range pv.Categories {
		if !now[c.Code] {
			v.WithdrawnCategories = append(v.WithdrawnCategories, c)
		}
	}
	v.Upgraded = !v.PrevConfirmed && v.Confirmed
	if len(v.ChangedCategories) == 0 {
		return errors.New("nothing grew since the earlier notice (no new category, nothing newly confirmed), so there is nothing to update the person about")
	}
	return nil
}

// zoneFor caches incident.ZoneFor, which reads the time zone database on
// every call.
func (r *Renderer) zoneFor(country, region string) *time.Location {
	key := country + "/" + region
	if z, ok := r.zones.Load(key); ok {
		return z.(*time.Location)
	}
	z := incident.ZoneFor(country, region, caseLocation(r.c))
	r.zones.Store(key, z)
	return z
}

// categories fills the view's category lists from the account's categories
// and per-category levels. A category without a level of its own is
// possible unless the account predates per-category levels and is confirmed:
// a guess is never called confirmed.
func (r *Renderer) categories(v *noticeView, a *store.AffectedAccount, ls *localeSet) error {
	levels := map[string]string{}
	if raw := bytes.TrimSpace(a.CategoryLevels); len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &levels); err != nil {
			return fmt.Errorf("category_levels: %w", err)
		}
	}
	seen := map[string]bool{}
	var codes []string
	for _, c := range a.Categories {
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	for c := range levels {
		if !seen[c] {
			seen[c] = true
			codes = append(codes, c)
		}
	}
	sort.Slice(codes, func(i, j int) bool {
		ri, rj := incident.CategoryRank(incident.Category(codes[i])), incident.CategoryRank(incident.Category(codes[j]))
		if ri != rj {
			return ri < rj
		}
		return codes[i] < codes[j]
	})
	for _, code := range codes {
		t, ok := ls.tmpl.labels[incident.Category(code)]
		if !ok {
			return fmt.Errorf("data category %q has no label in %s", code, templateName(ls.name, kindLabels))
		}
		lv := levels[code]
		if lv == "" {
			lv = "possible"
			if len(levels) == 0 && a.Level == "confirmed" {
				lv = "confirmed"
			}
		}
		cv := categoryView{Code: code, Label: t.Label, Advice: t.Advice}
		switch lv {
		case "confirmed":
			cv.Confirmed = true
			v.ConfirmedCategories = append(v.ConfirmedCategories, cv)
		case "possible":
			v.PossibleCategories = append(v.PossibleCategories, cv)
		default:
			return fmt.Errorf("category_levels: %q has level %q, want confirmed or possible", code, lv)
		}
		v.Categories = append(v.Categories, cv)
	}
	return nil
}

// pickLocale returns the locale to write in: the person's when templates
// exist for it (ja-JP and en_US count as ja and en), else the case's default.
func (r *Renderer) pickLocale(want string) string {
	want = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(want)), "_", "-")
	if s := chineseScript(want); s != "" {
		want = s // zh-TW, zh-Hant-HK, zh-CN, zh: the script's templates
	}
	if r.locales[want] != nil {
		return want
	}
	if i := strings.IndexAny(want, "-_"); i > 0 && r.locales[want[:i]] != nil {
		return want[:i]
	}
	return r.defaultLocale
}

// chineseScript is the template locale of a Chinese locale tag: zh-Hant for
// Traditional Chinese (the tag says Hant, or Taiwan, Hong Kong or Macao),
// zh-Hans for the rest; "" for another language. want is lower case.
func chineseScript(want string) string {
	if want != "zh" && !strings.HasPrefix(want, "zh-") {
		return ""
	}
	for _, p := range strings.Split(want, "-")[1:] {
		switch p {
		case "hant", "tw", "hk", "mo":
			return "zh-Hant"
		case "hans":
			return "zh-Hans"
		}
	}
	return "zh-Hans"
}

func firstNonEmpty(a, b string) string {
	if strings.TrimSpace(a) != "" {
		return a
	}
	return b
}

// MessageID returns the Message-ID of a person's notice in a case: the same
// for every render and resend, and carrying neither the address nor the name
// (the user id only as a salted hash).
func MessageID(c *incident.Case, userID string) string {
	return "<breachctl." + c.ID + "." + userHash(c.ID, userID) + "@" + messageIDDomain(c) + ">"
}

func (r *Renderer) messageID(userID string) string {
	return "<breachctl." + r.c.ID + "." + userHash(r.c.ID, userID) + "@" + r.domain + ">"
}

// UpdateMessageID returns the Message-ID of a person's update notice under
// a run: like MessageID, the same for every render and resend, and distinct
// from the first notice's, from a correction's and from another run's.
func UpdateMessageID(c *incident.Case, userID string, run int) string {
	return revisedMessageID(c.ID, messageIDDomain(c), store.NoticeUpdate, userID, run)
}

// CorrectionMessageID returns the Message-ID of a person's correction
// notice under a run (see UpdateMessageID).
func CorrectionMessageID(c *incident.Case, userID string, run int) string {
	return revisedMessageID(c.ID, messageIDDomain(c), store.NoticeCorrection, userID, run)
}

// revisedMessageID is <breachctl.CASE.KIND-RUN.HASH@DOMAIN>: one more
// dot-separated part than a first notice's (a case id has no dots), so the
// two can never be equal; the hash is salted with the kind and the run.
func revisedMessageID(caseID, domain, kind, userID string, run int) string {
	h := sha256.Sum256([]byte("breachctl " + kind + " notice\x00" + caseID + "\x00" + userID + "\x00" + strconv.Itoa(run)))
	return "<breachctl." + caseID + "." + kind + "-" + strconv.Itoa(run) + "." +
		strings.ToLower(base32.StdEncoding.EncodeToString(h[:10])) + "@" + domain + ">"
}

func userHash(caseID, userID string) string {
	h := sha256.Sum256([]byte("breachctl notice\x00" + caseID + "\x00" + userID))
	return strings.ToLower(base32.StdEncoding.EncodeToString(h[:10])) // 80 bits, 16 characters
}

// messageIDDomain is the sender's domain (notify.from, else the contact
// address), or breachctl.invalid when it is not a plain ASCII host name.
func messageIDDomain(c *incident.Case) string {
	addr := c.Organization.ContactEmail
	if a, err := incident.ParseAddress(c.Notify.From); c.Notify.From != "" && err == nil {
		addr = a.Address
	} else if a, err := incident.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	d := strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
	if d == "" || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return "breachctl.invalid"
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return "breachctl.invalid"
		}
	}
	return d
}

// badUserID says why a user id cannot be notified at all: it must be
// recorded as it is (manifest, ledger) and shown safely in a log line or a
// terminal. Any other id is: its notice's file name is FileName's, so
// slashes, colons, a dot first or a long id are no reason to refuse one,
// and render and send refuse the same ids for the same reasons.
func badUserID(id string) string {
	switch {
	case id == "":
		return "empty user id"
	case !utf8.ValidString(id):
		return "user id is not valid UTF-8"
	}
	for _, r := range id {
		if r < ' ' || r == 0x7f || unicode.IsControl(r) {
			return "user id contains a control character"
		}
	}
	return ""
}

// badText says why a display name cannot go into a header or a notice.
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		switch {
		case r == '\r' || r == '\n' || r == 0:
			return "contains a line break or NUL character"
		case unicode.IsControl(r), r == '\u2028', r == '\u2029', r == '\u0085':
			return "contains a control character"
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
			return "contains a bidirectional override character"
		}
	}
	return ""
}

// checkEmail validates a recipient's address and returns it bare. The
// reason never repeats the address.
func checkEmail(s string) (string, string) {
	if s == "" {
		return "", "no email address on file"
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return "", "email address contains a line break or NUL character"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", "email address contains a control character"
		}
	}
	s = strings.TrimSpace(s)
	if !isASCII(s) {
		return "", "email address is not ASCII (internationalised addresses are not supported)"
	}
	if len(s) > 254 {
		return "", "email address is longer than 254 characters"
	}
	a, err := incident.ParseAddress(s)
	if err != nil {
		return "", "email address is not a valid address"
	}
	if a.Name != "" || a.Address != s {
		return "", "email address is not a bare address (it has a display name, comment or angle brackets)"
	}
	return a.Address, ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// tidyText appends to out the text part made tidy whatever the templates'
// conditionals left: no trailing spaces, at most one blank line in a row,
// no leading blank lines, one final newline; lines longer than width (when
// > 0) are wrapped at spaces, list items with a hanging indent.
func tidyText(out, b []byte, width int) []byte {
	blank := 0
	start := true
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) == 0 {
			blank++
			continue
		}
		if blank > 0 && !start {
			out = append(out, '\n')
		}
		blank, start = 0, false
		if width > 0 && len(line) > width && utf8.RuneCount(line) > width {
			out = wrapLine(out, line, width)
			continue
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// wrapLine appends line wrapped at spaces to width columns (a word longer
// than that stays whole). A list item ("- ", "* ") continues under its text.
func wrapLine(out, line []byte, width int) []byte {
	lead := len(line) - len(bytes.TrimLeft(line, " "))
	indent := lead
	rest := line[lead:]
	if bytes.HasPrefix(rest, []byte("- ")) || bytes.HasPrefix(rest, []byte("* ")) {
		indent += 2
	}
	out = append(out, line[:lead]...)
	col := lead
	first := true
	for len(rest) > 0 {
		var w []byte
		if i := bytes.IndexByte(rest, ' '); i >= 0 {
			w, rest = rest[:i], rest[i+1:]
		} else {
			w, rest = rest, nil
		}
		if len(w) == 0 {
			continue
		}
		n := utf8.RuneCount(w)
		switch {
		case first:
			first = false
		case col+1+n > width:
			out = append(out, '\n')
			for i := 0; i < indent; i++ {
				out = append(out, ' ')
			}
			col = indent
		default:
			out = append(out, ' ')
			col++
		}
		out = append(out, w...)
		col += n
	}
	return append(out, '\n')
}
