package deliver

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/mailpit"
)

// The sending process of TestKillAndResume and TestKillAndResumeWebhook:
// this test binary, re-executed with BREACHCTL_DELIVER_HELPER=1 (SMTP) or
// =webhook, runs one Send against the given case database and SMTP server
// or endpoint (the webhook's secret from BREACHCTL_WEBHOOK_SECRET, as the
// CLI reads it).
func TestHelperSendProcess(t *testing.T) {
	helper := os.Getenv("BREACHCTL_DELIVER_HELPER")
	if helper != "1" && helper != "webhook" {
		t.Skip("helper process for TestKillAndResume and TestKillAndResumeWebhook")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv("BREACHCTL_DELIVER_DB"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, _ := strconv.Atoi(os.Getenv("BREACHCTL_DELIVER_RUN"))
	caseID := os.Getenv("BREACHCTL_DELIVER_CASE")
	opts := Options{
		Store: st, CaseID: caseID, Run: run,
		SMTPURL: os.Getenv("BREACHCTL_DELIVER_SMTP"), Workers: 4,
		MaxAttempts: 3, Backoff: 20 * time.Millisecond, Timeout: 10 * time.Second,
		Source: fakeSource(caseID, nil),
	}
	if helper == "webhook" {
		opts.Channel, opts.SMTPURL, opts.Source = store.ChannelWebhook, "", hookSource(caseID, nil, nil)
		opts.WebhookURL, opts.WebhookSecret = os.Getenv("BREACHCTL_DELIVER_WEBHOOK"), []byte(os.Getenv("BREACHCTL_WEBHOOK_SECRET"))
	}
	res, err := Send(ctx, opts)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	fmt.Printf("helper result: %+v\n", *res)
}

// TestKillAndResume kills the sending process with SIGKILL at random
// points three times, resuming each time, and checks against Mailpit that
// every person got exactly one message, or two (or more) with the same
// Message-ID only when the ledger recorded their notice as uncertain.
func TestKillAndResume(t *testing.T) {
	const n = 2000
	mp := mailpit.Start(t)
	l := newLedger(t, n)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("random seed %d", seed)

	helper := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSendProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			"BREACHCTL_DELIVER_HELPER=1",
			"BREACHCTL_DELIVER_DB="+l.url,
			"BREACHCTL_DELIVER_SMTP="+mp.SMTPURL(),
			"BREACHCTL_DELIVER_CASE="+l.caseID,
			"BREACHCTL_DELIVER_RUN="+strconv.Itoa(l.run))
		return cmd
	}
	kills, doubt := killRounds(t, rng, n, helper, func() store.NoticeCounts { return l.counts(t) }, l, store.ChannelEmail)

	// Mailpit stores what it accepted; wait until its count settles.
	last := -1
	for i := 0; i < 100; i++ {
		cnt := mp.Count(t)
		if cnt == last && cnt >= n {
			break
		}
		last = cnt
		time.Sleep(50 * time.Millisecond)
	}
	byTo := map[string][]string{}
	for _, m := range mp.Messages(t) {
		if len(m.To) != 1 {
			t.Fatalf("message %s has recipients %v", m.ID, m.To)
		}
		byTo[m.To[0]] = append(byTo[m.To[0]], m.MessageID)
	}
	dups := 0
	for i := 0; i < n; i++ {
		u := userID(i)
		got := byTo[address(u)]
		delete(byTo, address(u))
		want := normID(messageID(l.caseID, u))
		for _, id := range got {
			if id != want {
				t.Errorf("%s received Message-ID %s, want %s", u, id, want)
			}
		}
		switch {
		case len(got) == 0:
			t.Errorf("%s: no message (lost)", u)
		case len(got) > 1+doubt[u]:
			t.Errorf("%s: %d messages, but the ledger recorded %d uncertain sends", u, len(got), doubt[u])
		case len(got) > 1:
			dups++
		}
	}
	if len(byTo) != 0 {
		t.Errorf("messages to unknown recipients: %d", len(byTo))
	}
	t.Logf("%d kills; %d notices were uncertain; %d people got a duplicate with the same Message-ID", kills, len(doubt), dups)
}

// killRounds runs the sender helper starts and kills it with SIGKILL at a
// random point after it starts sending, three times, then lets one run to
// the end: every notice of the channel must then be sent. It returns the
// kills and the notices the ledger recorded in doubt (user id -> uncertain
// sends), checking there are at most one per worker per kill.
func killRounds(t *testing.T, rng *rand.Rand, n int, helper func() *exec.Cmd, counts func() store.NoticeCounts, l *ledger, channel string) (int, map[string]int) {
	t.Helper()
	kills := 0
	for round := 1; kills < 3 && round <= 10; round++ {
		before := counts().Sent
		var out bytes.Buffer
		cmd := helper()
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Wait until it sends, then kill it after a random delay.
		deadline := time.Now().Add(30 * time.Second)
		for counts().Sent == before && time.Now().Before(deadline) {
			select {
			case err := <-exited:
				t.Fatalf("round %d: the sender exited before sending (%v):\n%s", round, err, out.String())
			case <-time.After(5 * time.Millisecond):
			}
		}
		delay := time.Duration(rng.IntN(200)) * time.Millisecond
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := <-exited
		c := counts()
		if !strings.Contains(fmt.Sprint(err), "killed") {
			t.Logf("round %d: the sender finished before the kill (%v)", round, err)
			if c.Sent == n {
				t.Fatalf("all %d sent before 3 kills: make the kill delay shorter", n)
			}
			continue
		}
		kills++
		t.Logf("kill %d after %v: ledger %+v", kills, delay, c)
		if c.Sending > 4 {
			t.Errorf("kill %d: %d notices in sending, want at most one per worker (4)", kills, c.Sending)
		}
	}
	if kills < 3 {
		t.Fatalf("only %d kills happened", kills)
	}

	// The last sender runs to the end.
	var out bytes.Buffer
	cmd := helper()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("final send: %v\n%s", err, out.String())
	}
	if c := counts(); c.Sent != n || c.Total != n {
		t.Fatalf("ledger after the final send: %+v, want all %d sent", c, n)
	}
	doubt := map[string]int{}
	var rows []struct {
		UserID string `db:"user_id"`
		Count  int    `db:"uncertain_count"`
	}
	if err := l.st.DB.SelectContext(context.Background(), &rows, `SELECT user_id, uncertain_count FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = $3 AND uncertain_count > 0`, l.caseID, l.run, channel); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		doubt[r.UserID] = r.Count
	}
	if len(doubt) > 3*4 {
		t.Errorf("%d notices were uncertain after 3 kills, want at most 3 x 4 workers", len(doubt))
	}
	return kills, doubt
}
