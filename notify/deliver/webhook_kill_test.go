package deliver

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

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
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	t.Logf("random seed %d", seed)

	helper := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSendProcess$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(),
			"BREACHCTL_DELIVER_HELPER=webhook",
			"BREACHCTL_DELIVER_DB="+l.url,
			"BREACHCTL_DELIVER_WEBHOOK="+hs.url(),
			"BREACHCTL_WEBHOOK_SECRET="+string(testSecret),
			"BREACHCTL_DELIVER_CASE="+l.caseID,
			"BREACHCTL_DELIVER_RUN="+strconv.Itoa(l.run))
		return cmd
	}
	kills, doubt := killRounds(t, rng, n, helper, func() store.NoticeCounts { return l.counts(t) }, l.ledger, store.ChannelWebhook)
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
