package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

// TestObligationClocks: every duty names the clock its deadline runs from;
// Texas counts from the determination when one is recorded (the run's
// overriding the case file's is the caller's choice of Input.Determined).
func TestObligationClocks(t *testing.T) {
	const day30 = "2017-07-22T00:00:00+09:00"
	tests := []struct {
		name       string
		determined string
		delivery   Delivery
		want       map[string]string // id -> clock
		deadline   map[string]string // id -> RFC 3339
		trigger    map[string]string // id -> substring
	}{
		{name: "no determination",
			want: map[string]string{"appi-ppc-preliminary": ClockDiscovered, "appi-ppc-final": ClockDiscovered, "appi-individuals": ClockDiscovered,
				"gdpr-art33": ClockDiscovered, "gdpr-art34": ClockDiscovered, "us-ca-residents": ClockDiscovered, "us-ca-ag": ClockDiscovered,
				"us-tx-residents": ClockDiscovered, "hipaa-individuals": ClockDiscovered, "hipaa-hhs": ClockDiscovered},
			deadline: map[string]string{"us-tx-residents": day30},
			trigger:  map[string]string{"us-tx-residents": "no determined_at is recorded"}},
		{name: "determined a week later",
			determined: "2017-06-29T12:00:00+09:00",
			want:       map[string]string{"us-tx-residents": ClockDetermined, "us-ca-residents": ClockDiscovered, "gdpr-art33": ClockDiscovered},
			deadline:   map[string]string{"us-tx-residents": "2017-07-29T00:00:00+09:00", "us-ca-residents": day30},
			trigger:    map[string]string{"us-tx-residents": "from the determination (determined_at 2017-06-29 12:00 JST, run 2)"}},
		{name: "California AG from the notices sent",
			delivery: Delivery{Total: 1, Sent: 1, FirstSent: ts("2017-06-24T09:00:00+09:00"), LastSent: ts("2017-06-24T10:30:00+09:00")},
			want:     map[string]string{"us-ca-ag": ClockNoticesSent}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fixture(t)
			in.Delivery = tc.delivery
			if tc.determined != "" {
				in.Determined, in.DeterminedBy = ts(tc.determined), "run 2"
			}
			got := map[string]Obligation{}
			for _, o := range Obligations(in) {
				got[o.ID] = o
				if o.Clock == "" {
					t.Errorf("%s has no clock", o.ID)
				}
			}
			for id, clock := range tc.want {
				if got[id].Clock != clock {
					t.Errorf("%s clock = %q, want %q", id, got[id].Clock, clock)
				}
			}
			for id, d := range tc.deadline {
				if !got[id].Deadline.Equal(ts(d)) {
					t.Errorf("%s deadline = %s, want %s", id, got[id].Deadline.Format(time.RFC3339), d)
				}
			}
			for id, s := range tc.trigger {
				if !strings.Contains(got[id].Trigger, s) {
					t.Errorf("%s trigger %q lacks %q", id, got[id].Trigger, s)
				}
			}
		})
	}

	in := fixture(t)
	var js, txt bytes.Buffer
	if err := WriteObligationsJSON(&js, Obligations(in)); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(js.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if c, _ := r["clock"].(string); c == "" {
			t.Errorf("JSON row %v has no clock", r["id"])
		}
	}
	if err := WriteObligationsText(&txt, Obligations(in), in.Now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "FROM") || !strings.Contains(txt.String(), "discovered_at  Notify the supervisory authority") {
		t.Errorf("text table does not show the clock:\n%s", txt.String())
	}
}

// byID indexes accounts by user id.
func byID(aff []store.AffectedAccount) map[string]*store.AffectedAccount {
	m := map[string]*store.AffectedAccount{}
	for i := range aff {
		m[aff[i].UserID] = &aff[i]
	}
	return m
}

// TestUpdatesOf: who gets an update notice for run 2, from what each
// person was last told.
func TestUpdatesOf(t *testing.T) {
	grow := func(a store.AffectedAccount, level string, cats ...string) store.AffectedAccount {
		b := a
		b.Level, b.Categories, b.CategoryLevels = level, append([]string(nil), cats...), nil
		return b
	}
	r1 := join(accounts(6, levelPossible, "JP", "JP-13", "name"))
	r2 := []store.AffectedAccount{
		grow(r1[0], levelPossible, "name", "bank_account"), // new category
		grow(r1[1], levelConfirmed, "name"),                // possible -> confirmed
		grow(r1[2], levelPossible, "name"),                 // unchanged
		grow(r1[3], levelPossible, "name", "phone"),        // grew, already sent an update for run 2
		grow(r1[4], levelPossible, "name", "phone"),        // grew, never told: a first notice
		grow(r1[5], levelPossible, "name", "email"),        // grew, told from run 2 (first notice)
	}
	sent := ts("2017-06-28T10:00:00+09:00")
	told := map[string]Told{
		r1[0].UserID: {Kind: store.NoticeFirst, BasisRun: 1},
		r1[1].UserID: {Kind: store.NoticeFirst, BasisRun: 1},
		r1[2].UserID: {Kind: store.NoticeFirst, BasisRun: 1},
		r1[3].UserID: {Kind: store.NoticeUpdate, BasisRun: 2, SentAt: sent},
		r1[5].UserID: {Kind: store.NoticeFirst, BasisRun: 2},
	}
	rows := map[int]map[string]*store.AffectedAccount{1: byID(r1), 2: byID(r2)}
	basis := func(run int) (map[string]*store.AffectedAccount, error) { return rows[run], nil }
	u, err := UpdatesOf(2, r2, told, basis)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Due) != 2 || !u.Due[r1[0].UserID] || !u.Due[r1[1].UserID] {
		t.Errorf("due = %v, want users 0 and 1", u.Due)
	}
	if len(u.Sent) != 1 || !u.Sent[r1[3].UserID].Equal(sent) {
		t.Errorf("sent = %v, want user 3", u.Sent)
	}
	if len(u.Told) != 1 || u.Told[0] != 1 {
		t.Errorf("told runs = %v, want [1]", u.Told)
	}

	if u, err := UpdatesOf(2, r2, nil, basis); u != nil || err != nil {
		t.Errorf("nobody told: %v, %v; want nil", u, err)
	}
	boom := errors.New("connection reset")
	if _, err := UpdatesOf(2, r2, told, func(int) (map[string]*store.AffectedAccount, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("basis error = %v, want it wrapped", err)
	}

	// The duties: one update row per law with individual notice, counting
	// the people of its scope; done when nobody is left to update.
	in := Input{Case: loadCase(t), Run: 2, Affected: r2, Updates: u, Now: ts("2017-06-23T10:00:00+09:00")}
	in.Affected = append(in.Affected, accounts(1, levelPossible, "US", "US-CA", "name", "payment_card")...)
	got := map[string]Obligation{}
	for _, o := range Obligations(in) {
		got[o.ID] = o
	}
	up, ok := got["appi-individuals-update"]
	if !ok {
		t.Fatalf("no appi-individuals-update; got %v", ids(got))
	}
	if up.People != 3 || up.due != 2 || up.Status != StatusDue || up.Clock != ClockDiscovered || !up.Deadline.Equal(got["appi-individuals"].Deadline) {
		t.Errorf("appi update = %+v", up)
	}
	for _, s := range []string{"told from run 1", "run 2 shows more of theirs exposed", "2 to send, 1 sent", "same clock as the first notices (discovered_at)"} {
		if !strings.Contains(up.Trigger, s) {
			t.Errorf("trigger %q lacks %q", up.Trigger, s)
		}
	}
	if _, ok := got["us-ca-residents-update"]; ok {
		t.Errorf("a California update row with nobody to update in California")
	}

	// Everyone updated: done, at the last update sent.
	in.Updates = &Updates{Due: map[string]bool{}, Sent: map[string]time.Time{r1[3].UserID: sent}}
	for _, o := range Obligations(in) {
		if o.ID == "appi-individuals-update" {
			if o.Status != StatusDone || !o.DoneAt.Equal(sent) {
				t.Errorf("all updated: status %s at %v, want done at %v", o.Status, o.DoneAt, sent)
			}
			return
		}
	}
	t.Error("no update row once everyone was updated")
}
