package main

import (
	"bytes"
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
