package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
)

// want26 is a duty expected by TestObligations2026: deadline "" means none
// (status check, clock none unless clock says otherwise).
type want26 struct {
	deadline string
	clock    string   // "" = don't check
	people   int      // 0 = don't check
	says     []string // in the trigger
}

// TestObligations2026: the clocks of LAWS-2023-2026.md against fixed
// times, with the thresholds' edges, business days across a weekend and a
// holiday, and the case's time zone.
func TestObligations2026(t *testing.T) {
	const (
		nyAware = "2026-11-23T09:00:00-05:00" // a Monday; 26 Nov 2026 is Thanksgiving
		utc     = "2026-03-02T09:00:00Z"      // a Monday
	)
	usHolidays := func(c *incident.Case) { c.Calendar.Holidays = map[string][]string{"US": {"2026-11-26", "2026-12-25"}} }
	org := func(f func(o *incident.Organization)) func(*incident.Case) {
		return func(c *incident.Case) { f(&c.Organization) }
	}
	tests := []struct {
		name       string
		tz         string // the case's time zone; "" = UTC
		aware      string
		edit       func(c *incident.Case)
		affected   []store.AffectedAccount
		delivery   Delivery
		determined string
		want       map[string]want26
		absent     []string
	}{
		// SEC 8-K Item 1.05: 4 business days after the materiality determination.
		{name: "SEC: 4 business days across Thanksgiving and a weekend", tz: "America/New_York", aware: nyAware,
			edit: func(c *incident.Case) {
				c.Organization.USListed = true
				c.Material = ts("2026-11-24T15:00:00-05:00") // Tue: d1 Tue, d2 Wed, Thu holiday, d3 Fri, d4 Mon 30
				usHolidays(c)
			},
			affected: accounts(3, levelPossible, "US", "US-OR", "name"),
			want: map[string]want26{"sec-8k": {deadline: "2026-12-01T00:00:00-05:00", clock: ClockMaterial, people: 3,
				says: []string{"4 business days", "skipped: 2026-11-26"}}}},
		{name: "SEC: no holidays given: counted as business days, said", tz: "America/New_York", aware: nyAware,
			edit: func(c *incident.Case) {
				c.Organization.USListed = true
				c.Material = ts("2026-11-24T15:00:00-05:00")
			},
			affected: accounts(1, levelPossible, "US", "US-OR", "name"),
			want: map[string]want26{"sec-8k": {deadline: "2026-11-28T00:00:00-05:00", clock: ClockMaterial,
				says: []string{"no public holidays for US (calendar.holidays.US)", "check"}}}},
		{name: "SEC: no materiality_determined_at: from discovery, the field named", tz: "America/New_York", aware: nyAware,
			edit:     org(func(o *incident.Organization) { o.USListed = true }),
			affected: accounts(1, levelPossible, "JP", "JP-13", "name"),
			want: map[string]want26{"sec-8k": {deadline: "2026-11-27T00:00:00-05:00", clock: ClockDiscovered,
				says: []string{"set materiality_determined_at"}}}},
		{name: "SEC: not a listed company", aware: nyAware, affected: accounts(1, levelPossible, "US", "US-OR", "name"),
			absent: []string{"sec-8k"}},

		// Brazil: 3 business days from awareness, BR holidays, the case's zone.
		{name: "Brazil: 3 business days across Christmas and a weekend", tz: "America/Sao_Paulo", aware: "2026-12-24T10:00:00-03:00",
			edit:     func(c *incident.Case) { c.Calendar.Holidays = map[string][]string{"BR": {"2026-12-25"}} },
			affected: accounts(2, levelPossible, "BR", "BR-SP", "name", "payment_card"),
			want: map[string]want26{
				"br-lgpd-anpd":        {deadline: "2026-12-30T00:00:00-03:00", clock: ClockDiscovered, people: 2, says: []string{"relevant risk or damage likely", "skipped: 2026-12-25"}},
				"br-lgpd-individuals": {deadline: "2026-12-30T00:00:00-03:00", people: 2}}},
		{name: "Brazil: counted in the case's zone (Friday evening there, Saturday in UTC)", tz: "America/Sao_Paulo", aware: "2026-12-19T01:00:00Z",
			edit:     func(c *incident.Case) { c.Calendar.Holidays = map[string][]string{"BR": {}} },
			affected: accounts(1, levelPossible, "BR", "", "name"),
			want: map[string]want26{"br-lgpd-anpd": {deadline: "2026-12-23T00:00:00-03:00",
				says: []string{"counsel to assess", "none fell in the period"}}}},

		// UK GDPR.
		{name: "UK: ICO 72 hours; ordinary possible data: no individuals", aware: utc,
			affected: accounts(2, levelPossible, "GB", "GB-ENG", "name", "email"),
			want:     map[string]want26{"uk-ico": {deadline: "2026-03-05T09:00:00Z", clock: ClockDiscovered, people: 2}},
			absent:   []string{"uk-individuals", "gdpr-art33"}},
		{name: "UK: high risk: individuals too", aware: utc,
			affected: join(accounts(1, levelPossible, "GB", "", "bank_account"), accounts(4, levelPossible, "DE", "", "name")),
			want: map[string]want26{"uk-ico": {deadline: "2026-03-05T09:00:00Z", people: 1},
				"uk-individuals": {deadline: "2026-03-05T09:00:00Z", people: 1, says: []string{"High risk"}}, "gdpr-art33": {deadline: "2026-03-05T09:00:00Z", people: 4}}},

		// NIS2 and DORA.
		{name: "NIS2: 24 h, 72 h, one month (31 Jan -> 28 Feb)", aware: "2026-01-31T10:00:00Z",
			edit:     org(func(o *incident.Organization) { o.NIS2 = "important" }),
			affected: accounts(5, levelPossible, "JP", "JP-13", "name"),
			want: map[string]want26{"nis2-early-warning": {deadline: "2026-02-01T10:00:00Z", people: 5}, "nis2-notification": {deadline: "2026-02-03T10:00:00Z"},
				"nis2-final": {deadline: "2026-02-28T10:00:00Z", says: []string{"NIS2 important entity"}}}},
		{name: "NIS2: not an NIS2 entity", aware: utc, affected: accounts(5, levelPossible, "DE", "", "name"),
			absent: []string{"nis2-early-warning", "nis2-notification", "nis2-final", "dora-initial", "cn-cac-initial"}},
		{name: "DORA: 4 h after classification, then 72 h and one month from it", aware: utc,
			edit: func(c *incident.Case) {
				c.Organization.DORA = true
				c.Classified = ts("2026-03-02T12:00:00Z")
			},
			affected: accounts(1, levelPossible, "FR", "", "name"),
			want: map[string]want26{"dora-initial": {deadline: "2026-03-02T16:00:00Z", clock: ClockClassified},
				"dora-intermediate": {deadline: "2026-03-05T12:00:00Z", clock: ClockClassified}, "dora-final": {deadline: "2026-04-02T12:00:00Z", clock: ClockClassified}}},
		{name: "DORA: classified late: the 24 hours from awareness come first", aware: utc,
			edit: func(c *incident.Case) {
				c.Organization.DORA = true
				c.Classified = ts("2026-03-03T08:00:00Z")
			},
			affected: accounts(1, levelPossible, "FR", "", "name"),
			want:     map[string]want26{"dora-initial": {deadline: "2026-03-03T09:00:00Z", clock: ClockDiscovered, says: []string{"the 24 hours come first"}}}},
		{name: "DORA: no classified_at: from discovery", aware: utc,
			edit:     org(func(o *incident.Organization) { o.DORA = true }),
			affected: accounts(1, levelPossible, "FR", "", "name"),
			want: map[string]want26{"dora-initial": {deadline: "2026-03-02T13:00:00Z", clock: ClockDiscovered, says: []string{"set classified_at"}},
				"dora-final": {deadline: "2026-04-02T09:00:00Z", clock: ClockDiscovered}}},

		// Korea PIPA.
		{name: "Korea: 999 people, ordinary data: individuals only", aware: utc,
			affected: accounts(999, levelPossible, "KR", "KR-11", "name", "email"),
			want:     map[string]want26{"kr-pipa-individuals": {deadline: "2026-03-05T09:00:00Z", people: 999}},
			absent:   []string{"kr-pipa-pipc"}},
		{name: "Korea: 1,000 people: the regulator", aware: utc,
			affected: accounts(1000, levelPossible, "KR", "KR-11", "name", "email"),
			want:     map[string]want26{"kr-pipa-pipc": {deadline: "2026-03-05T09:00:00Z", people: 1000, says: []string{"1,000 people, 1,000 or more"}}}},
		{name: "Korea: one person, unique identifier", aware: utc,
			affected: accounts(1, levelPossible, "KR", "", "government_id"),
			want:     map[string]want26{"kr-pipa-pipc": {deadline: "2026-03-05T09:00:00Z", says: []string{"unique-identifier"}}}},
		{name: "Korea: one person, unauthorised access from outside", aware: utc,
			edit:     func(c *incident.Case) { c.CauseKind = "unauthorized_access" },
			affected: accounts(1, levelPossible, "KR", "", "name"),
			want:     map[string]want26{"kr-pipa-pipc": {deadline: "2026-03-05T09:00:00Z", says: []string{"cause_kind unauthorized_access"}}}},

		// Singapore PDPA.
		{name: "Singapore: 499 people, ordinary data: the assessment only", aware: utc,
			affected: accounts(499, levelPossible, "SG", "", "name"),
			want:     map[string]want26{"sg-pdpa-assessment": {deadline: "2026-04-01T00:00:00Z", people: 499}},
			absent:   []string{"sg-pdpa-pdpc", "sg-pdpa-individuals"}},
		{name: "Singapore: 500 people: PDPC 3 days; no assessed_at: from discovery", aware: utc,
			affected: accounts(500, levelPossible, "SG", "", "name"),
			want:     map[string]want26{"sg-pdpa-pdpc": {deadline: "2026-03-05T00:00:00Z", clock: ClockDiscovered, people: 500, says: []string{"set assessed_at"}}},
			absent:   []string{"sg-pdpa-individuals"}},
		{name: "Singapore: 501 people, assessed: 3 calendar days from the assessment", aware: utc,
			edit:     func(c *incident.Case) { c.Assessed = ts("2026-03-20T15:00:00Z") },
			affected: accounts(501, levelPossible, "SG", "", "name"),
			want:     map[string]want26{"sg-pdpa-pdpc": {deadline: "2026-03-23T00:00:00Z", clock: ClockAssessed, people: 501}}},
		{name: "Singapore: one person, financial data: PDPC and individuals (no verified deadline)", aware: utc,
			affected: accounts(1, levelPossible, "SG", "", "bank_account"),
			want: map[string]want26{"sg-pdpa-pdpc": {deadline: "2026-03-05T00:00:00Z"},
				"sg-pdpa-individuals": {deadline: "", says: []string{"check the statute"}}}},

		// Australia, Canada, Quebec: no fixed periods but the assessment.
		{name: "Australia: assess in 30 days; notices as soon as practicable", aware: utc,
			affected: accounts(3, levelPossible, "AU", "AU-NSW", "name"),
			want: map[string]want26{"au-ndb-assessment": {deadline: "2026-04-01T00:00:00Z", people: 3},
				"au-ndb-oaic": {deadline: "", says: []string{"as soon as practicable", "no fixed period"}}, "au-ndb-individuals": {deadline: ""}}},
		{name: "Canada and Quebec: as soon as feasible, records of every breach", aware: utc,
			affected: join(accounts(2, levelPossible, "CA", "CA-ON", "name"), accounts(1, levelPossible, "CA", "CA-QC", "name")),
			want: map[string]want26{"ca-pipeda-opc": {deadline: "", people: 3, says: []string{"as soon as feasible", "no fixed number"}},
				"ca-pipeda-individuals": {deadline: ""}, "ca-pipeda-records": {deadline: ""},
				"ca-qc-cai": {deadline: "", people: 1, says: []string{"check the statute"}}, "ca-qc-individuals": {deadline: "", people: 1}}},
		{name: "Canada without Quebec", aware: utc, affected: accounts(2, levelPossible, "CA", "CA-BC", "name"),
			want: map[string]want26{"ca-pipeda-opc": {deadline: ""}}, absent: []string{"ca-qc-cai", "us-ca-residents"}},

		// India: Rule 7 not in force before ~13 May 2027.
		{name: "India 2026: not yet in force: to check, no deadline", aware: utc,
			affected: accounts(2, levelPossible, "IN", "", "name"),
			want: map[string]want26{"in-dpdp-board": {deadline: "", says: []string{"not yet in force", "Not a binding deadline"}},
				"in-dpdp-individuals": {deadline: ""}}},
		{name: "India: one minute before 13 May 2027 IST: still to check", aware: "2027-05-12T23:59:00+05:30",
			affected: accounts(1, levelPossible, "IN", "", "name"),
			want:     map[string]want26{"in-dpdp-board": {deadline: "", says: []string{"not yet in force"}}}},
		{name: "India from 13 May 2027: Board report 72 hours", aware: "2027-05-13T00:00:00+05:30",
			affected: accounts(1, levelPossible, "IN", "", "name"),
			want: map[string]want26{"in-dpdp-board": {deadline: "2027-05-16T00:00:00+05:30", clock: ClockDiscovered},
				"in-dpdp-individuals": {deadline: "2027-05-16T00:00:00+05:30"}}},

		// China.
		{name: "China: network operator 4 hours, summary 30 days", aware: utc,
			edit:     org(func(o *incident.Organization) { o.China = "network_operator" }),
			affected: accounts(1, levelPossible, "JP", "JP-13", "name"),
			want:     map[string]want26{"cn-cac-initial": {deadline: "2026-03-02T13:00:00Z"}, "cn-cac-summary": {deadline: "2026-04-01T00:00:00Z"}}},
		{name: "China: CII operator 1 hour", aware: utc,
			edit:     org(func(o *incident.Organization) { o.China = "cii" }),
			affected: accounts(1, levelPossible, "JP", "JP-13", "name"),
			want:     map[string]want26{"cn-cac-initial": {deadline: "2026-03-02T10:00:00Z", says: []string{"critical information infrastructure"}}}},

		// US states since 2023.
		{name: "Texas: 249: no AG", aware: utc, affected: accounts(249, levelPossible, "US", "US-TX", "bank_account"),
			want: map[string]want26{"us-tx-residents": {deadline: "2026-04-01T00:00:00Z"}}, absent: []string{"us-tx-ag"}},
		{name: "Texas: 250: AG 30 days from the determination", aware: utc, determined: "2026-03-10T12:00:00Z",
			affected: accounts(250, levelPossible, "US", "US-TX", "bank_account"),
			want: map[string]want26{"us-tx-ag": {deadline: "2026-04-09T00:00:00Z", clock: ClockDetermined, people: 250},
				"us-tx-residents": {deadline: "2026-04-09T00:00:00Z", clock: ClockDetermined}}},
		{name: "Pennsylvania: 499: residents to check, no credit bureaus", aware: utc, affected: accounts(499, levelPossible, "US", "US-PA", "bank_account"),
			want:   map[string]want26{"us-pa-residents": {deadline: "", clock: ClockNone, says: []string{"check the statute"}}},
			absent: []string{"us-pa-ag", "us-pa-bureaus"}},
		{name: "Pennsylvania: 500: credit bureaus, no AG", aware: utc, affected: accounts(500, levelPossible, "US", "US-PA", "bank_account"),
			want:   map[string]want26{"us-pa-bureaus": {deadline: "", clock: ClockNone, says: []string{"500 or more", "check the statute"}}},
			absent: []string{"us-pa-ag"}},
		{name: "Oklahoma: 999 and 1,000: credit bureaus at 1,000", aware: utc, affected: accounts(1000, levelPossible, "US", "US-OK", "bank_account"),
			want: map[string]want26{"us-ok-bureaus": {deadline: "", clock: ClockNone}, "us-ok-residents": {deadline: "", clock: ClockNone}}},
		{name: "Oklahoma: 999: no credit bureaus", aware: utc, affected: accounts(999, levelPossible, "US", "US-OK", "bank_account"),
			absent: []string{"us-ok-bureaus"}},
		{name: "New York: one resident: the state agencies, to check", aware: utc, affected: accounts(1, levelPossible, "US", "US-NY", "bank_account"),
			want: map[string]want26{"us-ny-agencies": {deadline: "", clock: ClockNone, says: []string{"any number", "check the statute"}},
				"us-ny-residents": {deadline: "2026-04-01T00:00:00Z"}}},
		{name: "Pennsylvania: 501, no notice sent: AG with the notices, to check", aware: utc,
			affected: accounts(501, levelPossible, "US", "US-PA", "bank_account"),
			want:     map[string]want26{"us-pa-ag": {deadline: "", clock: ClockNoticesSent, says: []string{"concurrently", "credit monitoring"}}}},
		{name: "Pennsylvania: 501, notices sent: AG when the first went", aware: utc,
			affected: accounts(501, levelPossible, "US", "US-PA", "bank_account"),
			delivery: Delivery{Total: 501, Sent: 10, Pending: 491, FirstSent: ts("2026-03-09T08:00:00Z"), LastSent: ts("2026-03-09T09:00:00Z")},
			want:     map[string]want26{"us-pa-ag": {deadline: "2026-03-09T08:00:00Z", clock: ClockNoticesSent}}},
		{name: "Oklahoma: 499: no AG", aware: utc, affected: accounts(499, levelPossible, "US", "US-OK", "bank_account"),
			absent: []string{"us-ok-ag"}},
		{name: "Oklahoma: 500, no notice sent: 60 days from discovery", aware: utc,
			affected: accounts(500, levelPossible, "US", "US-OK", "bank_account"),
			want:     map[string]want26{"us-ok-ag": {deadline: "2026-05-01T00:00:00Z", clock: ClockDiscovered, says: []string{"earliest it can be"}}}},
		{name: "Oklahoma: 501, notices sent: 60 days after the first", aware: utc,
			affected: accounts(501, levelPossible, "US", "US-OK", "bank_account"),
			delivery: Delivery{Total: 501, Sent: 501, FirstSent: ts("2026-03-09T08:00:00Z"), LastSent: ts("2026-03-10T09:00:00Z")},
			want:     map[string]want26{"us-ok-ag": {deadline: "2026-05-08T00:00:00Z", clock: ClockNoticesSent}}},
		{name: "Utah: 499: no AG", aware: utc, affected: accounts(499, levelPossible, "US", "US-UT", "bank_account"),
			absent: []string{"us-ut-ag"}},
		{name: "Utah: 500: AG and Cyber Center, deadline not verified", aware: utc,
			affected: accounts(500, levelPossible, "US", "US-UT", "bank_account"),
			want:     map[string]want26{"us-ut-ag": {deadline: "", clock: ClockNone, says: []string{"check the statute", "identity theft or fraud of 500 or more"}}}},
		{name: "New York: 30 days; DFS 72 hours when covered", aware: utc,
			edit:     org(func(o *incident.Organization) { o.NYDFS = true }),
			affected: accounts(1, levelPossible, "US", "US-NY", "bank_account"),
			want:     map[string]want26{"us-ny-residents": {deadline: "2026-04-01T00:00:00Z"}, "us-ny-dfs": {deadline: "2026-03-05T09:00:00Z"}}},
		{name: "FTC Safeguards: 499 consumers: none", aware: utc,
			edit:     org(func(o *incident.Organization) { o.GLBANonbank = true }),
			affected: accounts(499, levelPossible, "US", "US-OR", "bank_account"), absent: []string{"ftc-safeguards"}},
		{name: "FTC Safeguards: 500 consumers: 30 days", aware: utc,
			edit:     org(func(o *incident.Organization) { o.GLBANonbank = true }),
			affected: accounts(500, levelPossible, "US", "US-OR", "bank_account"),
			want:     map[string]want26{"ftc-safeguards": {deadline: "2026-04-01T00:00:00Z", people: 500}}},
		{name: "FTC HBNR: 499: individuals 60 days, FTC in the yearly log", aware: utc,
			edit:     org(func(o *incident.Organization) { o.PHRVendor = true }),
			affected: accounts(499, levelPossible, "US", "US-OR", "name"),
			want: map[string]want26{"ftc-hbnr-individuals": {deadline: "2026-05-01T00:00:00Z"},
				"ftc-hbnr-ftc": {deadline: "2027-03-02T00:00:00Z", says: []string{"fewer than 500"}}}},
		{name: "FTC HBNR: 501: the FTC at the same time", aware: utc,
			edit:     org(func(o *incident.Organization) { o.PHRVendor = true }),
			affected: accounts(501, levelPossible, "US", "US-OR", "name"),
			want: map[string]want26{"ftc-hbnr-ftc": {deadline: "2026-05-01T00:00:00Z", says: []string{"500 or more"}},
				"ftc-hbnr-media": {deadline: "", clock: ClockNone, says: []string{"check the statute"}}}},
		{name: "FTC HBNR: 501, notices sent on day 10: the FTC then too", aware: utc,
			edit:     org(func(o *incident.Organization) { o.PHRVendor = true }),
			affected: accounts(501, levelPossible, "US", "US-OR", "name"),
			delivery: Delivery{Total: 501, Sent: 501, FirstSent: ts("2026-03-12T08:00:00Z"), LastSent: ts("2026-03-13T09:00:00Z")},
			want:     map[string]want26{"ftc-hbnr-ftc": {deadline: "2026-03-12T08:00:00Z", clock: ClockNoticesSent, says: []string{"first individual notice was sent"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCase(t)
			c.Timezone, c.Location = "UTC", time.UTC
			if tc.tz != "" {
				c.Timezone, c.Location = tc.tz, mustLoad(tc.tz)
			}
			c.Aware = ts(tc.aware)
			if tc.edit != nil {
				tc.edit(c)
			}
			in := Input{Case: c, Run: 1, Affected: tc.affected, Delivery: tc.delivery, Now: ts("2026-03-01T00:00:00Z")}
			if tc.determined != "" {
				in.Determined, in.DeterminedBy = ts(tc.determined), "case file"
			}
			got := map[string]Obligation{}
			for _, o := range Obligations(in) {
				got[o.ID] = o
			}
			for id, w := range tc.want {
				o, ok := got[id]
				if !ok {
					t.Errorf("duty %s missing; got %v", id, ids(got))
					continue
				}
				switch {
				case w.deadline == "" && (!o.Deadline.IsZero() || o.Status != StatusCheck):
					t.Errorf("%s deadline = %s, status %s; want none, status check", id, o.Deadline.Format(time.RFC3339), o.Status)
				case w.deadline != "" && !o.Deadline.Equal(ts(w.deadline)):
					t.Errorf("%s deadline = %s, want %s", id, o.Deadline.Format(time.RFC3339), w.deadline)
				}
				wantClock := w.clock
				if wantClock == "" && w.deadline == "" && o.Clock != ClockNoticesSent {
					wantClock = ClockNone
				}
				if wantClock != "" && o.Clock != wantClock {
					t.Errorf("%s clock = %s, want %s", id, o.Clock, wantClock)
				}
				if w.people != 0 && o.People != w.people {
					t.Errorf("%s people = %d, want %d", id, o.People, w.people)
				}
				for _, s := range w.says {
					if !strings.Contains(o.Trigger, s) {
						t.Errorf("%s trigger lacks %q: %s", id, s, o.Trigger)
					}
				}
				if o.Trigger == "" || o.Duty == "" || o.Law == "" || o.Clock == "" {
					t.Errorf("%s has an empty law, duty, trigger or clock: %+v", id, o)
				}
			}
			for _, id := range tc.absent {
				if o, ok := got[id]; ok {
					t.Errorf("duty %s present, want absent (trigger: %s)", id, o.Trigger)
				}
			}
		})
	}
}

func TestBusinessClock(t *testing.T) {
	c := loadCase(t)
	c.Location = mustLoad("America/Sao_Paulo")
	c.Calendar.Holidays = map[string][]string{"BR": {"2026-12-25", "2027-01-01"}}
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2026-12-21T09:00:00-03:00", 3, "2026-12-24T00:00:00-03:00"}, // Mon: Mon, Tue, Wed
		{"2026-12-24T09:00:00-03:00", 3, "2026-12-30T00:00:00-03:00"}, // Thu, (Fri 25), Mon, Tue
		{"2026-12-26T09:00:00-03:00", 1, "2026-12-29T00:00:00-03:00"}, // Sat: Mon is day 1
		{"2026-12-30T09:00:00-03:00", 3, "2027-01-05T00:00:00-03:00"}, // Wed, Thu, (Fri 1 Jan), Mon
	}
	for _, tc := range tests {
		got, note := businessClock(c, "BR", ts(tc.from), tc.n)
		if !got.Equal(ts(tc.want)) {
			t.Errorf("businessClock(%s, %d) = %s, want %s (%s)", tc.from, tc.n, got.Format(time.RFC3339), tc.want, note)
		}
	}
	if _, note := businessClock(c, "US", ts("2026-12-24T09:00:00-03:00"), 3); !strings.Contains(note, "no public holidays for US") {
		t.Errorf("note without US holidays = %q", note)
	}
	// The regulator counts in its own zone: a case kept in a zone behind
	// it must not end later than the statute (Saturday in Honolulu: the
	// SEC's four business days end Thursday midnight in New York, not
	// Honolulu's, five hours later; Brazil's three end in Brasília).
	c.Location = mustLoad("Pacific/Honolulu")
	c.Calendar.Holidays = nil
	for _, tc := range []struct {
		country, from string
		n             int
		notAfter      string
	}{
		{"US", "2026-11-21T10:00:00-10:00", 4, "2026-11-27T00:00:00-05:00"},
		{"BR", "2026-12-19T10:00:00-10:00", 3, "2026-12-24T00:00:00-03:00"},
	} {
		if got, note := businessClock(c, tc.country, ts(tc.from), tc.n); got.After(ts(tc.notAfter)) {
			t.Errorf("%s from %s: %s, after the statute's %s (%s)", tc.country, tc.from, got.Format(time.RFC3339), tc.notAfter, note)
		}
	}
}

// TestNoDeadlineOutput: a duty without a deadline is last, "check" in the
// table's header and rows, and has "deadline": "" in JSON.
func TestNoDeadlineOutput(t *testing.T) {
	c := loadCase(t)
	c.Aware = ts("2026-03-02T09:00:00Z")
	in := Input{Case: c, Affected: join(accounts(2, levelPossible, "CA", "CA-ON", "name"), accounts(1, levelPossible, "DE", "", "name")),
		Now: ts("2026-03-02T10:00:00Z")}
	obs := Obligations(in)
	if len(obs) != 4 || obs[0].ID != "gdpr-art33" {
		t.Fatalf("got %v, want gdpr-art33 first, then the three Canadian duties", obs)
	}
	var txt, js bytes.Buffer
	if err := WriteObligationsText(&txt, obs, in.Now); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"4 duties: 0 overdue, 1 due, 0 done, 3 to check (no fixed deadline)", "check", "no fixed deadline"} {
		if !strings.Contains(txt.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, txt.String())
		}
	}
	if err := WriteObligationsJSON(&js, obs); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(js.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows[1:] {
		if r["deadline"] != "" || r["status"] != StatusCheck {
			t.Errorf("%v: deadline %q, status %v; want \"\", check", r["id"], r["deadline"], r["status"])
		}
	}
}
