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
)

// The sending process of TestKillAndResumeWebhook: this test binary,
// re-executed with BREACHCTL_DELIVER_HELPER=webhook, runs one Send of the
// webhook channel against the given case database and endpoint, with the
// secret from BREACHCTL_WEBHOOK_SECRET as the CLI reads it.
func TestHelperWebhookSendProcess(t *testing.T) {
	if os.Getenv("BREACHCTL_DELIVER_HELPER") != "webhook" {
		t.Skip("helper process for TestKillAndResumeWebhook")
	}
	ctx := context.Background()
	st, err := store.Open(ctx, os.Getenv("BREACHCTL_DELIVER_DB"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, _ := strconv.Atoi(os.Getenv("BREACHCTL_DELIVER_RUN"))
	caseID := os.Getenv("BREACHCTL_DELIVER_CASE")
	res, err := Send(ctx, Options{
		Store: st, CaseID: caseID, Run: run, Channel: store.ChannelWebhook,
		WebhookURL: os.Getenv("BREACHCTL_DELIVER_WEBHOOK"), WebhookSecret: []byte(os.Getenv("BREACHCTL_WEBHOOK_SECRET")),
		Workers: 4, MaxAttempts: 3, Backoff: 20 * time.Millisecond, Timeout: 10 * time.Second,
		Source: hookSource(caseID, nil, nil),
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	fmt.Printf("helper result: %+v\n", *res)
}

// TestKillAndResumeWebhook is TestKillAndResume for the webhook channel:
// the endpoint lives in this process, the sender in a re-executed test
// binary killed with SIGKILL at random points three times and resumed. At
// the end every notice of the channel is sent, the endpoint stored each
// person's notice exactly once (by Idempotency-Key), every request was
// signed, and a key came again only for a notice the ledger recorded in
// doubt, at most once per doubt.
func TestKillAndResumeWebhook(t *testing.T) {
	const n = 2000
	l := newHookLedger(t, n)
	hs := startHook(t, testSecret, nil)
	ctx := context.Background()
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	t.Logf("random seed %d", seed)

	helper := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWebhookSendProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			"BREACHCTL_DELIVER_HELPER=webhook",
			"BREACHCTL_DELIVER_DB="+l.url,
			"BREACHCTL_DELIVER_WEBHOOK="+hs.url(),
			"BREACHCTL_WEBHOOK_SECRET="+string(testSecret),
			"BREACHCTL_DELIVER_CASE="+l.caseID,
			"BREACHCTL_DELIVER_RUN="+strconv.Itoa(l.run))
		return cmd
	}
	kills := 0
	for round := 1; kills < 3 && round <= 10; round++ {
		before := l.counts(t).Sent
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
		for l.counts(t).Sent == before && time.Now().Before(deadline) {
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
		c := l.counts(t)
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
	c := l.counts(t)
	if c.Sent != n || c.Total != n {
		t.Fatalf("ledger after the final send: %+v, want all %d sent", c, n)
	}
	doubt := map[string]int{}
	var rows []struct {
		UserID string `db:"user_id"`
		Count  int    `db:"uncertain_count"`
	}
	if err := l.st.DB.SelectContext(ctx, &rows, `SELECT user_id, uncertain_count FROM breachctl.notices
		WHERE case_id = $1 AND run = $2 AND channel = 'webhook' AND uncertain_count > 0`, l.caseID, l.run); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		doubt[r.UserID] = r.Count
	}
	if len(doubt) > 3*4 {
		t.Errorf("%d notices were uncertain after 3 kills, want at most 3 x 4 workers", len(doubt))
	}
	// Stored exactly once each, signed, same key and body; received again
	// only when in doubt.
	hs.checkStored(t, l, n)
	dups := 0
	for i := 0; i < n; i++ {
		u := userID(i)
		got := 0
		for _, r := range hs.requests(hookKey(l.caseID, u)) {
			if r.complete {
				got++
			}
		}
		switch {
		case got == 0:
			t.Errorf("%s: never received (lost)", u)
		case got > 1+doubt[u]:
			t.Errorf("%s: received %d times, but the ledger recorded %d uncertain sends", u, got, doubt[u])
		case got > 1:
			dups++
		}
	}
	reqs, stored := hs.total()
	t.Logf("%d kills; %d notices were uncertain; %d requests, %d stored; %d people's notice was received twice (same key, stored once)",
		kills, len(doubt), reqs, stored, dups)
}
