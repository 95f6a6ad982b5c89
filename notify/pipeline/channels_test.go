package pipeline

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/pgtest"
	"github.com/breachctl/breachctl/notify"
)

func planStore(t *testing.T) (*store.Store, *incident.Case) {
	t.Helper()
	c, err := incident.Load("../testdata/case.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	url, _ := pgtest.NewDB(t)
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.UpsertCase(context.Background(), store.Case{ID: c.ID, Title: "t", CaseFile: "f", CaseFileSHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	return st, c
}

func affectedRun(t *testing.T, st *store.Store, c *incident.Case, levels string, users ...string) (int, []store.AffectedAccount) {
	t.Helper()
	ctx := context.Background()
	run, err := st.NewRun(ctx, c.ID, "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(levels), &m); err != nil {
		t.Fatal(err)
	}
	var accts []store.AffectedAccount
	for _, u := range users {
		a := store.AffectedAccount{UserID: u, Level: "confirmed", CategoryLevels: json.RawMessage(levels), Views: 1, Viewers: 1, Locale: "en", Country: "JP"}
		for k := range m {
			a.Categories = append(a.Categories, k)
		}
		accts = append(accts, a)
	}
	if err := st.SaveExposure(ctx, c.ID, run, 0, nil, accts); err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(ctx, c.ID, run, store.RunDone, store.Totals{}, map[string]int{}, nil); err != nil {
		t.Fatal(err)
	}
	return run, accts
}

func sendAll(t *testing.T, st *store.Store, c *incident.Case, run int, channel string, seeds []store.NoticeSeed) {
	t.Helper()
	ctx := context.Background()
	led := st.Ledger(channel)
	if _, err := led.SeedNotices(ctx, c.ID, run, seeds); err != nil {
		t.Fatal(err)
	}
	for _, sd := range seeds {
		if _, err := led.ClaimNotice(ctx, c.ID, run, store.NoticeClaim{UserID: sd.UserID, State: store.NoticePending}); err != nil {
			t.Fatal(err)
		}
		if err := led.FinishNotice(ctx, c.ID, run, store.NoticeOutcome{UserID: sd.UserID, State: store.NoticeSent, SMTPReply: "250 ok"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestChannelPlans: each channel is planned from its own notices. A
// person whose first e-mail bounced and whose exposure grew is owed an
// e-mail update (the first was sent; sending it again would bounce
// again), and a first letter under the first e-mail's Message-ID; a
// person told by e-mail and letter who did not grow is owed nothing on
// either.
func TestChannelPlans(t *testing.T) {
	ctx := context.Background()
	st, c := planStore(t)
	run1, acc1 := affectedRun(t, st, c, `{"email":"confirmed"}`, "1", "2")
	p1, err := MakePlan(ctx, st, c, run1, acc1, false)
	if err != nil {
		t.Fatal(err)
	}
	sendAll(t, st, c, run1, store.ChannelEmail, p1.Seeds())
	l1, err := MakeChannelPlan(ctx, st, c, run1, acc1, false, store.ChannelLetter)
	if err != nil {
		t.Fatal(err)
	}
	var letter2 []store.NoticeSeed
	for _, sd := range l1.Seeds() {
		if sd.UserID == "2" {
			letter2 = append(letter2, sd)
		}
	}
	sendAll(t, st, c, run1, store.ChannelLetter, letter2)
	first1 := p1.ByUser["1"].MessageID
	if _, _, err := st.MarkUnreached(ctx, c.ID, 0, store.ChannelEmail, []string{first1}); err != nil {
		t.Fatal(err)
	}
	// Run 2: person 1 grew (bank account now too), person 2 did not.
	run2, acc2 := affectedRun(t, st, c, `{"email":"confirmed","bank_account":"confirmed"}`, "1")
	acc2 = append(acc2, acc1[1])
	email, err := MakeChannelPlan(ctx, st, c, run2, acc2, false, store.ChannelEmail)
	if err != nil {
		t.Fatal(err)
	}
	if pl := email.ByUser["1"]; pl.Kind != store.NoticeUpdate || pl.RefersTo != first1 || pl.MessageID != notify.UpdateMessageID(c, "1", run2) {
		t.Errorf("e-mail plan for 1 (bounced, grew) = %+v; want an update referring to %s", pl, first1)
	}
	if pl := email.ByUser["2"]; pl.Kind != "" {
		t.Errorf("e-mail plan for 2 (unchanged) = kind %q; want nothing", pl.Kind)
	}
	letter, err := MakeChannelPlan(ctx, st, c, run2, acc2, false, store.ChannelLetter)
	if err != nil {
		t.Fatal(err)
	}
	if pl := letter.ByUser["1"]; pl.Kind != store.NoticeFirst || pl.MessageID != first1 {
		t.Errorf("letter plan for 1 (never sent a letter) = %+v; want a first notice under %s", pl, first1)
	}
	if pl := letter.ByUser["2"]; pl.Kind != "" {
		t.Errorf("letter plan for 2 (sent a letter, unchanged) = kind %q; want nothing", pl.Kind)
	}
}
