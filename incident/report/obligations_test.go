package report

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
)

// loadCase reads testdata/case.yaml: discovered 2017-06-22 14:41 JST,
// misconfiguration, time zone Asia/Tokyo.
func loadCase(t testing.TB) *incident.Case {
	t.Helper()
	c, err := incident.Load("testdata/case.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var seq int

// accounts makes n affected accounts of one level, country, region and set
// of categories, with distinctive user ids.
func accounts(n int, level, country, region string, cats ...string) []store.AffectedAccount {
	out := make([]store.AffectedAccount, n)
	for i := range out {
		seq++
		views := 0
		if level == levelConfirmed {
			views = 2
		}
		levels := map[string]string{}
		for _, c := range cats {
			levels[c] = level
		}
		lj, _ := json.Marshal(levels)
		out[i] = store.AffectedAccount{UserID: fmt.Sprintf("uid-q7x%05d", seq), Level: level, Categories: cats,
			CategoryLevels: lj, Views: views, Viewers: views / 2, Locale: "en", Country: country, Region: region,
			FirstExposed: sql.NullTime{Time: ts("2017-06-22T01:05:00Z"), Valid: true},
			LastExposed:  sql.NullTime{Time: ts("2017-06-22T06:30:00Z"), Valid: true}}
	}
	return out
}

func join(groups ...[]store.AffectedAccount) []store.AffectedAccount {
	var out []store.AffectedAccount
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

type want struct {
	deadline string // RFC 3339
	status   string // "" = don't check
	people   int    // -1 = don't check
}

func TestObligations(t *testing.T) {
	early := ts("2017-06-23T10:00:00+09:00")
	late := ts("2017-12-01T00:00:00+09:00")
	sentAll := Delivery{Total: 1, Sent: 1, FirstSent: ts("2017-06-24T09:00:00+09:00"), LastSent: ts("2017-06-24T10:30:00+09:00")}
	const (
		prelim  = "2017-06-27T00:00:00+09:00" // end of day 5, 22 June = day 1
		final30 = "2017-07-22T00:00:00+09:00"
		final60 = "2017-08-21T00:00:00+09:00"
		gdpr72  = "2017-06-25T14:41:00+09:00"
		day30   = "2017-07-22T00:00:00+09:00"
		day45   = "2017-08-06T00:00:00+09:00"
		day60   = "2017-08-21T00:00:00+09:00"
		yearLog = "2018-03-02T00:00:00+09:00" // end of 1 March 2018
	)
	tests := []struct {
		name     string
		cause    string // cause_kind; "" keeps misconfiguration
		aware    string // discovered_at; "" keeps the file's
		affected []store.AffectedAccount
		delivery Delivery
		now      time.Time
		want     map[string]want
		absent   []string
	}{
		{name: "APPI (1) sensitive data, one person",
			affected: accounts(1, levelPossible, "JP", "JP-13", "health"), now: early,
			want: map[string]want{"appi-ppc-preliminary": {prelim, StatusDue, 1}, "appi-ppc-final": {final30, StatusDue, 1}, "appi-individuals": {prelim, StatusDue, 1}}},
		{name: "APPI (2) financial data, one person",
			affected: accounts(1, levelPossible, "JP", "JP-13", "bank_account"), now: early,
			want: map[string]want{"appi-ppc-preliminary": {prelim, StatusDue, 1}, "appi-ppc-final": {final30, StatusDue, 1}}},
		{name: "APPI (2) credentials count as financial",
			affected: accounts(1, levelPossible, "JP", "JP-13", "credentials"), now: early,
			want: map[string]want{"appi-ppc-final": {final30, StatusDue, 1}}},
		{name: "APPI (3) wrongful intent: final report 60 days",
			cause: "unauthorized_access", affected: accounts(1, levelPossible, "JP", "JP-13", "name"), now: early,
			want: map[string]want{"appi-ppc-preliminary": {prelim, StatusDue, 1}, "appi-ppc-final": {final60, StatusDue, 1}}},
		{name: "APPI (3) insider",
			cause: "insider", affected: accounts(1, levelPossible, "JP", "JP-13", "email"), now: early,
			want: map[string]want{"appi-ppc-final": {final60, StatusDue, 1}}},
		{name: "APPI (3) with (2): still 60 days",
			cause: "unauthorized_access", affected: accounts(1, levelPossible, "JP", "JP-13", "payment_card"), now: early,
			want: map[string]want{"appi-ppc-final": {final60, StatusDue, 1}}},
		{name: "APPI (4) exactly 1,000 people: not triggered",
			affected: accounts(1000, levelPossible, "JP", "JP-13", "name", "email"), now: early,
			absent: []string{"appi-ppc-preliminary", "appi-ppc-final", "appi-individuals"}},
		{name: "APPI (4) 1,001 people",
			affected: accounts(1001, levelPossible, "JP", "JP-13", "name", "email"), now: early,
			want: map[string]want{"appi-ppc-preliminary": {prelim, StatusDue, 1001}, "appi-ppc-final": {final30, StatusDue, 1001}}},
		{name: "APPI (4) counts people outside Japan once APPI applies",
			affected: join(accounts(1, levelConfirmed, "JP", "JP-13", "name"), accounts(1000, levelPossible, "SG", "", "name")), now: early,
			want: map[string]want{"appi-ppc-final": {final30, StatusDue, 1001}}},
		{name: "APPI no trigger",
			affected: accounts(3, levelConfirmed, "JP", "JP-13", "name", "phone", "postal_address"), now: early,
			absent: []string{"appi-ppc-preliminary", "appi-ppc-final", "appi-individuals"}},
		{name: "APPI needs a person in Japan",
			affected: accounts(2000, levelPossible, "SG", "", "bank_account"), now: early,
			absent: []string{"appi-ppc-preliminary", "appi-ppc-final"}},
		{name: "APPI country taken from the region",
			affected: accounts(1, levelPossible, "", "JP-27", "payment_card"), now: early,
			want: map[string]want{"appi-ppc-preliminary": {prelim, StatusDue, 1}}},
		{name: "APPI preliminary overdue, final due",
			affected: accounts(1, levelPossible, "JP", "JP-13", "bank_account"), now: ts("2017-06-27T00:00:01+09:00"),
			want: map[string]want{"appi-ppc-preliminary": {prelim, StatusOverdue, 1}, "appi-ppc-final": {final30, StatusDue, 1}, "appi-individuals": {prelim, StatusOverdue, 1}}},
		{name: "at the deadline itself: still due",
			affected: accounts(1, levelPossible, "JP", "JP-13", "bank_account"), now: ts(prelim),
			want: map[string]want{"appi-ppc-preliminary": {prelim, StatusDue, 1}}},
		{name: "APPI notices done when every notice is sent",
			affected: accounts(1, levelPossible, "JP", "JP-13", "bank_account"), delivery: sentAll, now: ts("2017-06-28T00:00:00+09:00"),
			want: map[string]want{"appi-individuals": {prelim, StatusDone, 1}, "appi-ppc-preliminary": {prelim, StatusOverdue, 1}}},
		{name: "APPI notices partly sent: not done",
			affected: accounts(2, levelPossible, "JP", "JP-13", "bank_account"),
			delivery: Delivery{Total: 2, Sent: 1, Pending: 1, FirstSent: ts("2017-06-24T09:00:00+09:00"), LastSent: ts("2017-06-24T09:00:00+09:00")}, now: early,
			want: map[string]want{"appi-individuals": {prelim, StatusDue, 2}}},
		{name: "everyone reached by e-mail, a required letter still to go: not done",
			affected: accounts(1, levelPossible, "JP", "JP-13", "bank_account"),
			delivery: Delivery{Total: 1, Sent: 1, Pending: 1, FirstSent: ts("2017-06-24T09:00:00+09:00"), LastSent: ts("2017-06-24T09:00:00+09:00")}, now: early,
			want: map[string]want{"appi-individuals": {prelim, StatusDue, 1}}},
		{name: "everyone reached, one also in doubt on another channel: not done",
			affected: accounts(1, levelPossible, "JP", "JP-13", "bank_account"),
			delivery: Delivery{Total: 1, Sent: 1, Uncertain: 1, FirstSent: ts("2017-06-24T09:00:00+09:00"), LastSent: ts("2017-06-24T09:00:00+09:00")}, now: early,
			want: map[string]want{"appi-individuals": {prelim, StatusDue, 1}}},
		{name: "ledger smaller than the affected list: not done",
			affected: accounts(2, levelPossible, "JP", "JP-13", "bank_account"), delivery: sentAll, now: early,
			want: map[string]want{"appi-individuals": {prelim, StatusDue, 2}}},

		{name: "GDPR Art. 33 72 hours; possible, ordinary data: no Art. 34",
			affected: accounts(2, levelPossible, "DE", "DE-BY", "name", "email"), now: early,
			want: map[string]want{"gdpr-art33": {gdpr72, StatusDue, 2}}, absent: []string{"gdpr-art34"}},
		{name: "GDPR overdue one second after 72 hours",
			affected: accounts(2, levelPossible, "FR", "", "name"), now: ts(gdpr72).Add(time.Second),
			want: map[string]want{"gdpr-art33": {gdpr72, StatusOverdue, 2}}},
		{name: "GDPR Art. 34 when exposure is confirmed",
			affected: join(accounts(1, levelConfirmed, "FR", "", "name"), accounts(1, levelPossible, "JP", "JP-13", "name")), now: early,
			want: map[string]want{"gdpr-art33": {gdpr72, StatusDue, 1}, "gdpr-art34": {gdpr72, StatusDue, 1}}},
		{name: "GDPR Art. 34 for financial data; EEA includes Norway",
			affected: accounts(1, levelPossible, "NO", "", "payment_card"), now: early,
			want: map[string]want{"gdpr-art33": {gdpr72, StatusDue, 1}, "gdpr-art34": {gdpr72, StatusDue, 1}}},
		{name: "GDPR Art. 34 for an identifier",
			affected: accounts(1, levelPossible, "IT", "", "government_id"), now: early,
			want: map[string]want{"gdpr-art34": {gdpr72, StatusDue, 1}}},
		{name: "no GDPR without EEA people (UK is not in the list)",
			affected: accounts(5, levelConfirmed, "GB", "", "bank_account"), now: early,
			absent: []string{"gdpr-art33", "gdpr-art34"}},

		{name: "California 30 days; 500 residents: no AG sample",
			affected: accounts(500, levelPossible, "US", "US-CA", "name", "payment_card"), now: early,
			want: map[string]want{"us-ca-residents": {day30, StatusDue, 500}}, absent: []string{"us-ca-ag"}},
		{name: "California 501 residents: AG sample 15 days after the notice deadline",
			affected: accounts(501, levelPossible, "US", "US-CA", "name", "payment_card"), now: early,
			want: map[string]want{"us-ca-residents": {day30, StatusDue, 501}, "us-ca-ag": {day45, StatusDue, 501}}},
		{name: "California AG sample 15 days after the first notice sent (batches do not move it later)",
			affected: accounts(501, levelPossible, "US", "US-CA", "name", "payment_card"),
			delivery: Delivery{Total: 501, Sent: 501, FirstSent: ts("2017-06-30T09:00:00+09:00"), LastSent: ts("2017-07-01T18:00:00+09:00")},
			now:      ts("2017-07-10T00:00:00+09:00"),
			want:     map[string]want{"us-ca-residents": {day30, StatusDone, 501}, "us-ca-ag": {"2017-07-15T00:00:00+09:00", StatusDue, 501}}},
		{name: "California notices overdue",
			affected: accounts(3, levelPossible, "US", "US-CA", "bank_account"), now: late,
			want: map[string]want{"us-ca-residents": {day30, StatusOverdue, 3}}},
		{name: "Washington AG over 500",
			affected: accounts(501, levelPossible, "US", "US-WA", "bank_account"), now: early,
			want: map[string]want{"us-wa-residents": {day30, StatusDue, 501}, "us-wa-ag": {day30, StatusDue, 501}}},
		{name: "Washington 500: no AG",
			affected: accounts(500, levelPossible, "US", "US-WA", "bank_account"), now: early,
			want: map[string]want{"us-wa-residents": {day30, StatusDue, 500}}, absent: []string{"us-wa-ag"}},
		{name: "Delaware 60 days; NY, CO, FL, TX 30",
			affected: join(accounts(1, levelPossible, "US", "US-DE", "bank_account"), accounts(1, levelPossible, "US", "US-NY", "bank_account"),
				accounts(1, levelPossible, "US", "US-CO", "bank_account"), accounts(1, levelPossible, "US", "US-FL", "bank_account"),
				accounts(1, levelPossible, "US", "US-TX", "bank_account")), now: early,
			want: map[string]want{"us-de-residents": {day60, StatusDue, 1}, "us-ny-residents": {day30, StatusDue, 1}, "us-co-residents": {day30, StatusDue, 1},
				"us-fl-residents": {day30, StatusDue, 1}, "us-tx-residents": {day30, StatusDue, 1}}},
		{name: "a state without a fixed clock encoded",
			affected: accounts(1, levelPossible, "US", "US-OR", "bank_account"), now: early,
			absent: []string{"us-or-residents"}},

		{name: "HIPAA 500 people: HHS within 60 days",
			affected: accounts(500, levelPossible, "US", "US-NY", "health"), now: early,
			want: map[string]want{"hipaa-individuals": {day60, StatusDue, 500}, "hipaa-hhs": {day60, StatusDue, 500}}},
		{name: "HIPAA 499 people: yearly log",
			affected: accounts(499, levelPossible, "US", "US-NY", "health"), now: early,
			want: map[string]want{"hipaa-hhs": {yearLog, StatusDue, 499}}},
		{name: "HIPAA yearly log in a leap year ends on 29 February",
			aware: "2019-03-01T10:00:00+09:00", affected: accounts(1, levelPossible, "US", "US-NY", "health"), now: ts("2019-03-02T00:00:00+09:00"),
			want: map[string]want{"hipaa-hhs": {"2020-03-01T00:00:00+09:00", StatusDue, 1}}},
		{name: "HIPAA media over 500 residents of one state",
			affected: join(accounts(501, levelPossible, "US", "US-TX", "health"), accounts(500, levelPossible, "US", "US-NY", "health")), now: early,
			want:   map[string]want{"hipaa-media-us-tx": {day60, StatusDue, 501}, "hipaa-hhs": {day60, StatusDue, 1001}},
			absent: []string{"hipaa-media-us-ny"}},
		{name: "no HIPAA without health data",
			affected: accounts(600, levelPossible, "US", "US-TX", "name"), now: early,
			absent: []string{"hipaa-individuals", "hipaa-hhs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCase(t)
			if tc.cause != "" {
				c.CauseKind = tc.cause
			}
			if tc.aware != "" {
				c.Aware = ts(tc.aware)
			}
			in := Input{Case: c, Run: 1, Affected: tc.affected, Delivery: tc.delivery, Now: tc.now}
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
				if !o.Deadline.Equal(ts(w.deadline)) {
					t.Errorf("%s deadline = %s, want %s", id, o.Deadline.Format(time.RFC3339), w.deadline)
				}
				if w.status != "" && o.Status != w.status {
					t.Errorf("%s status = %s, want %s", id, o.Status, w.status)
				}
				if w.people >= 0 && o.People != w.people {
					t.Errorf("%s people = %d, want %d", id, o.People, w.people)
				}
				if o.Trigger == "" || o.Duty == "" || o.Law == "" {
					t.Errorf("%s has an empty law, duty or trigger: %+v", id, o)
				}
			}
			for _, id := range tc.absent {
				if _, ok := got[id]; ok {
					t.Errorf("duty %s present, want absent (trigger: %s)", id, got[id].Trigger)
				}
			}
		})
	}
}

func ids(m map[string]Obligation) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDeadlinesIgnoreTheClock: the clock decides status only.
func TestDeadlinesIgnoreTheClock(t *testing.T) {
	in := fixture(t)
	in.Now = ts("2017-06-22T15:00:00+09:00")
	a := Obligations(in)
	in.Now = ts("2019-01-01T00:00:00Z")
	b := Obligations(in)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("got %d and %d duties", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || !a[i].Deadline.Equal(b[i].Deadline) {
			t.Errorf("duty %d: %s %s vs %s %s", i, a[i].ID, a[i].Deadline, b[i].ID, b[i].Deadline)
		}
		if b[i].Status != StatusOverdue {
			t.Errorf("%s status in 2019 = %s, want overdue", b[i].ID, b[i].Status)
		}
	}
	for i := 1; i < len(a); i++ {
		if a[i].Deadline.Before(a[i-1].Deadline) {
			t.Errorf("not sorted by deadline: %s before %s", a[i-1].ID, a[i].ID)
		}
	}
}

func TestAPPITriggerText(t *testing.T) {
	c := loadCase(t)
	c.CauseKind = "insider"
	in := Input{Case: c, Affected: join(accounts(1001, levelPossible, "JP", "JP-13", "health", "bank_account")), Now: ts("2017-06-23T00:00:00Z")}
	for _, o := range Obligations(in) {
		if o.ID != "appi-ppc-final" {
			continue
		}
		for _, s := range []string{"(1) sensitive", "(2) data whose misuse", "(3) possible wrongful intent: cause_kind is insider", "(4) more than 1,000 people: 1,001", "60 days because case (3) holds"} {
			if !strings.Contains(o.Trigger, s) {
				t.Errorf("trigger %q lacks %q", o.Trigger, s)
			}
		}
		return
	}
	t.Fatal("no appi-ppc-final duty")
}

func TestObligationsOutput(t *testing.T) {
	in := fixture(t)
	obs := Obligations(in)
	var txt, js bytes.Buffer
	if err := WriteObligationsText(&txt, obs, in.Now); err != nil {
		t.Fatal(err)
	}
	if err := WriteObligationsJSON(&js, obs); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "obligations.txt.golden"), txt.Bytes())
	golden.Check(t, filepath.Join("testdata", "obligations.json.golden"), js.Bytes())

	var rows []map[string]any
	if err := json.Unmarshal(js.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		for _, k := range []string{"law", "duty", "trigger", "people", "deadline", "status"} {
			if _, ok := r[k]; !ok {
				t.Errorf("obligation %v lacks %q", r["id"], k)
			}
		}
		if _, err := time.Parse(time.RFC3339, r["deadline"].(string)); err != nil {
			t.Errorf("deadline %v: %v", r["deadline"], err)
		}
	}

	var empty bytes.Buffer
	if err := WriteObligationsJSON(&empty, nil); err != nil || strings.TrimSpace(empty.String()) != "[]" {
		t.Errorf("no duties = %q, %v; want []", empty.String(), err)
	}
}

func TestDayClock(t *testing.T) {
	tests := []struct {
		from string
		n    int
		want string
	}{
		{"2017-06-22T14:41:00+09:00", 5, "2017-06-27T00:00:00+09:00"},
		{"2017-06-22T00:00:00+09:00", 1, "2017-06-23T00:00:00+09:00"},
		{"2017-06-21T23:59:00Z", 30, "2017-07-22T00:00:00+09:00"}, // 08:59 on 22 June in Tokyo
	}
	for _, tc := range tests {
		got := dayClock(ts(tc.from), tc.n, tokyo)
		if !got.Equal(ts(tc.want)) {
			t.Errorf("dayClock(%s, %d) = %s, want %s", tc.from, tc.n, got.Format(time.RFC3339), tc.want)
		}
		if got.After(ts(tc.from).Add(time.Duration(tc.n) * 24 * time.Hour)) {
			t.Errorf("dayClock(%s, %d) = %s is later than from + %d×24h", tc.from, tc.n, got, tc.n)
		}
	}
}

func TestObligationsTextDone(t *testing.T) {
	c := loadCase(t)
	aff := accounts(2, levelConfirmed, "US", "US-CA", "payment_card")
	in := Input{Case: c, Affected: aff, Now: ts("2017-06-30T00:00:00+09:00"),
		Delivery: Delivery{Total: 2, Sent: 2, FirstSent: ts("2017-06-24T09:00:00+09:00"), LastSent: ts("2017-06-24T10:30:00+09:00")}}
	var b bytes.Buffer
	if err := WriteObligationsText(&b, Obligations(in), in.Now); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"1 duty: 0 overdue, 0 due, 1 done", "California  done", "sent 06-24 10:30", "Notify residents, Cal. Civ. Code §1798.82"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
}
