package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/notify/deliver"
)

// TestPrintSendResultUncertain (issue 21 item 1): a send no longer resends
// the notices it made uncertain, and some may end failed with their
// delivery unknown: the summary says so, and does not claim a resend.
func TestPrintSendResultUncertain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		res     deliver.Result
		want    []string
		notWant []string
	}{
		{
			name:    "made uncertain, left for the next send",
			res:     deliver.Result{Sent: 10, UncertainNew: 10, UncertainHeld: 10},
			want:    []string{"10 connections broke", "not sent again by this send", "10 notices are uncertain at the end of this send"},
			notWant: []string{"were uncertain and resent", "failed at --max-attempts"},
		},
		{
			name: "out of attempts, delivery unknown",
			res:  deliver.Result{Failed: 7, UncertainNew: 5, FailedUncertain: 5},
			want: []string{"delivery: 0 sent, 7 failed", "5 notices failed at --max-attempts with delivery unknown", "--retry-failed"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			d := newDeps(IO{Out: &out, Err: &out}, nil)
			printSendResult(d, &tc.res)
			got := out.String()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("got:\n%s\nwant it to say %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("got:\n%s\nwant it not to say %q", got, w)
				}
			}
		})
	}
}

// TestNotifySendUncertainExits1: a send that leaves notices uncertain is
// not complete, and says so with exit 1 (a script must not read it as
// done); each notice went out once in that send.
func TestNotifySendUncertainExits1(t *testing.T) {
	caseFile, env := hostileCase(t, nil)
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest: exit %d\n%q", r.code, r.err)
	}
	srv := &rawSMTP{dropAfterData: true}
	url, taken := srv.start(t), &srv.taken
	r := runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", url, "--timeout", "10s", "--max-attempts", "3", "--backoff", "1h")
	if r.code != 1 || !strings.Contains(r.err, "notices are uncertain") {
		t.Fatalf("notify send: exit %d, want 1 saying notices are uncertain\nout %q\nerr %q", r.code, r.out, r.err)
	}
	st := runCLI(t, env, "notify", "status", "-f", caseFile, "--format", "json")
	var status struct {
		Counts map[string]int `json:"counts"`
	}
	if err := json.Unmarshal([]byte(st.out), &status); err != nil {
		t.Fatalf("notify status json: %v\n%s", err, st.out)
	}
	if n := status.Counts["uncertain"]; n == 0 || int64(n) != taken.Load() {
		t.Errorf("%d notices uncertain, %d messages taken by the server: want one transmission each (counts %v)", n, taken.Load(), status.Counts)
	}
	// With --uncertain skip the team has chosen to hold them: not a failure.
	r = runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", url, "--timeout", "10s", "--uncertain", "skip")
	if r.code != 0 {
		t.Errorf("notify send --uncertain skip: exit %d, want 0\n%q", r.code, r.err)
	}
}
