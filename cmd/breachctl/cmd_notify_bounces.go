package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/textsafe"
	"github.com/breachctl/breachctl/notify/bounce"
)

type notifyBouncesOptions struct {
	caseFile string
	mbox     string
	dir      string
}

func newNotifyBouncesCmd(d *deps) *cobra.Command {
	var o notifyBouncesOptions
	cmd := &cobra.Command{
		Use:   "bounces -f incident.yaml (--mbox FILE | --dir DIR)",
		Short: "Record the delivery status notifications (bounces) of sent notices",
		Long: `Read delivery status notifications (RFC 3464 multipart/report DSNs) from an
mbox file or a directory of .eml files, and record each failed or delayed
recipient against the notice it is about, found by the original message's
Message-ID (from the report's copy of the message or of its headers) and
nothing else: a DSN without one, or with one no notice of the case has, is
counted and listed by file and position, never guessed at.

Each file is hashed (SHA-256) as it is read; reading the same file again
records nothing new. Status 5.x.x is a permanent bounce, 4.x.x a temporary
one. No address is stored: diagnostics have their e-mail addresses replaced
and control characters removed. A message that is not a DSN (an auto-reply,
an answer) is skipped and counted; one that says it is a DSN and cannot be
read stops the command, naming the file and the message, and nothing is
recorded.

A permanent bounce marks the notice "bounced" in the ledger (so does one for
a notice in doubt: the server took it): it did not reach the person, and the
next channel of notify.channels (a letter, an in-app message) becomes due for
them — 'notify letters' and 'notify send --channel webhook' pick them up.
A temporary bounce (delayed) changes nothing. 'notify status' reports the
bounces by user id.`,
		Example: "  breachctl notify bounces -f incident.yaml --mbox /var/mail/notices\n  breachctl notify bounces -f incident.yaml --dir bounces/",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runNotifyBounces(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.caseFile, "file", "f", "", "case file (incident.yaml)")
	f.StringVar(&o.mbox, "mbox", "", "an mbox file of delivery status notifications")
	f.StringVar(&o.dir, "dir", "", "a directory of .eml delivery status notifications")
	return cmd
}

func runNotifyBounces(ctx context.Context, d *deps, o notifyBouncesOptions) error {
	if (o.mbox == "") == (o.dir == "") {
		return usageErrorf("notify bounces needs --mbox FILE or --dir DIR (one of them)")
	}
	var paths []string
	if o.mbox != "" {
		paths = []string{o.mbox}
	} else {
		entries, err := os.ReadDir(o.dir)
		if err != nil {
			return fmt.Errorf("notify bounces: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".eml") {
				paths = append(paths, filepath.Join(o.dir, e.Name()))
			}
		}
		sort.Strings(paths)
		if len(paths) == 0 {
			return fmt.Errorf("notify bounces: no .eml files in %s", o.dir)
		}
	}
	// Read every file before opening the case database: a bad file stops
	// the command with nothing recorded.
	var srcs []*bounce.Source
	for _, p := range paths {
		s, err := bounce.ReadSource(ctx, p, o.mbox != "")
		if err != nil {
			return fmt.Errorf("notify bounces: %w", err)
		}
		srcs = append(srcs, s)
	}
	c, st, err := d.openCase(ctx, o.caseFile)
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := bounce.Record(ctx, st, c.ID, srcs)
	if err != nil {
		return fmt.Errorf("notify bounces: %w", err)
	}
	writeBounces(d, srcs, r)
	if n := len(r.Bounced); n > 0 {
		next := "no later channel: notify.channels lists none after email"
		ps := c.Policies()
		for i, p := range ps {
			if p.Channel == incident.ChannelEmail && i+1 < len(ps) {
				next = "now due on the next channel of notify.channels (" + ps[i+1].Channel + ") where the policy says so"
			}
		}
		fmt.Fprintf(d.io.Out, "%d people's e-mail notices are marked bounced: %s\n", n, next)
	}
	return nil
}

func writeBounces(d *deps, srcs []*bounce.Source, r *bounce.Result) {
	w := d.io.Out
	files := "files"
	if r.Files == 1 {
		files = "file"
	}
	fmt.Fprintf(w, "read %d messages from %d %s\n", r.Messages, r.Files, files)
	for _, s := range srcs {
		fmt.Fprintf(w, "  %s  sha256 %s  %d messages\n", textsafe.Term(s.Path), s.SHA256, len(s.Messages))
	}
	fmt.Fprintf(w, "  %-18s %6d\n", "DSNs", r.DSNs)
	fmt.Fprintf(w, "  %-18s %6d  (skipped)\n", "not DSNs", r.NotDSNs)
	fmt.Fprintf(w, "  %-18s %6d\n", "failed recipients", r.Failed)
	fmt.Fprintf(w, "  %-18s %6d  (%d permanent, %d temporary; %d newly recorded, %d recorded before)\n", "matched",
		r.Matched, r.MatchedPermanent, r.MatchedTemporary, r.Recorded, r.Matched-r.Recorded)
	fmt.Fprintf(w, "  %-18s %6d\n", "unmatched", r.Unmatched)
	if len(r.UnmatchedAt) > 0 {
		fmt.Fprintln(w, "unmatched (no original Message-ID, or one no notice of the case has; not recorded):")
		for _, p := range r.UnmatchedAt {
			fmt.Fprintf(w, "  %s message %d\n", textsafe.Term(p.Source), p.Position)
		}
	}
}
