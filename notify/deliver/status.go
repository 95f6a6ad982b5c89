package deliver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/breachctl/breachctl/incident/store"
)

// StatusReport is the state of a run's delivery ledger. It holds user ids
// and reasons, never addresses or names.
type StatusReport struct {
	Case     string               `json:"case"`
	Run      int                  `json:"run"`
	Counts   store.NoticeCounts   `json:"counts"`
	Failures []store.NoticeReason `json:"failures"`
	// Uncertain lists the notices whose delivery is unknown (a sender
	// stopped mid-transaction); `notify send` resends them with the same
	// Message-ID unless --uncertain=skip.
	Uncertain []string `json:"uncertain"`
	// SentInDoubt lists the notices sent after being uncertain: the person
	// may have received the message twice (same Message-ID).
	SentInDoubt []string `json:"sent_in_doubt"`
	// FailedUncertain lists the failed notices whose delivery is unknown
	// (out of attempts, the connection broken after the message was handed
	// over): the person may or may not have it. --retry-failed puts them
	// back (as uncertain: resent with the same Message-ID).
	FailedUncertain []string `json:"failed_uncertain"`
	// ByKind counts the run's notices by kind (first, update, correction)
	// and state.
	ByKind []store.KindCount `json:"by_kind"`
	// NoLongerAffected lists the people sent a notice under another run
	// who are not affected in this one: nothing is sent to them unless
	// `notify send --corrections` is asked for.
	NoLongerAffected []string `json:"no_longer_affected"`
	// Bounces are the delivery status notifications `notify bounces`
	// recorded for the run's notices (by Message-ID).
	Bounces BounceReport `json:"bounces"`
	// ByChannel counts the run's notices by channel and state (e-mail,
	// letters, in-app messages); the counts above are e-mail's.
	ByChannel []store.ChannelCount `json:"by_channel"`
}

// BounceReport counts the people whose notice bounced (Permanent: a 5.x.x
// status; Temporary: 4.x.x ones only) and lists the user ids of the
// permanent ones. It holds no address and no diagnostic.
type BounceReport struct {
	store.BounceCounts
	PermanentUsers []string `json:"permanent_users"`
}

// Status reads a run's ledger.
func Status(ctx context.Context, st *store.Store, caseID string, run int) (*StatusReport, error) {
	r := &StatusReport{Case: caseID, Run: run}
	var err error
	if r.Counts, err = st.CountNotices(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.Failures, err = st.NoticeFailures(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.Uncertain, err = st.UncertainNotices(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.SentInDoubt, err = st.NoticesSentInDoubt(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.FailedUncertain, err = st.NoticesFailedUncertain(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.ByKind, err = st.CountNoticeKinds(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.NoLongerAffected, err = st.NoLongerAffected(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.Bounces.BounceCounts, r.Bounces.PermanentUsers, err = st.NoticeBounces(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.ByChannel, err = st.CountByChannel(ctx, caseID, run); err != nil {
		return nil, err
	}
	if r.ByKind == nil {
		r.ByKind = []store.KindCount{}
	}
	if r.NoLongerAffected == nil {
		r.NoLongerAffected = []string{}
	}
	return r, nil
}

// WriteStatusJSON writes the report as one indented JSON object.
func WriteStatusJSON(w io.Writer, r *StatusReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// maxListed bounds the user ids listed in the text report.
const maxListed = 50

// WriteStatusText writes the report for a person at a terminal.
func WriteStatusText(w io.Writer, r *StatusReport) error {
	var b strings.Builder
	c := r.Counts
	fmt.Fprintf(&b, "case %s, run %d: %d notices\n", r.Case, r.Run, c.Total)
	fmt.Fprintf(&b, "  %-10s %8d\n", "sent", c.Sent)
	if c.Retrying > 0 {
		fmt.Fprintf(&b, "  %-10s %8d  (%d waiting to retry after a temporary failure)\n", "pending", c.Pending, c.Retrying)
	} else {
		fmt.Fprintf(&b, "  %-10s %8d\n", "pending", c.Pending)
	}
	if c.FailedUncertain > 0 {
		fmt.Fprintf(&b, "  %-10s %8d  (%d of them delivery unknown: may or may not have been delivered)\n", "failed", c.Failed, c.FailedUncertain)
	} else {
		fmt.Fprintf(&b, "  %-10s %8d\n", "failed", c.Failed)
	}
	fmt.Fprintf(&b, "  %-10s %8d\n", "uncertain", c.Uncertain)
	if c.Bounced > 0 {
		fmt.Fprintf(&b, "  %-10s %8d  (accepted, then a permanent bounce: due on the next channel of notify.channels)\n", "bounced", c.Bounced)
	}
	if c.Sending > 0 {
		fmt.Fprintf(&b, "  %-10s %8d  (a sender is running, or one stopped mid-transaction: the next send marks them uncertain)\n", "sending", c.Sending)
	}
	channels := map[string][]store.ChannelCount{}
	var order []string
	for _, cc := range r.ByChannel {
		if channels[cc.Channel] == nil {
			order = append(order, cc.Channel)
		}
		channels[cc.Channel] = append(channels[cc.Channel], cc)
	}
	if len(order) > 1 || (len(order) == 1 && order[0] != store.ChannelEmail) {
		b.WriteString("\nby channel:\n")
		for _, ch := range order {
			var parts []string
			for _, cc := range channels[ch] {
				st := cc.State
				if ch == store.ChannelLetter && st == store.NoticeSent {
					st = "handed over"
				}
				parts = append(parts, fmt.Sprintf("%s %d", st, cc.N))
			}
			fmt.Fprintf(&b, "  %-10s %s\n", ch, strings.Join(parts, ", "))
		}
	}
	kinds := map[string]bool{}
	for _, k := range r.ByKind {
		kinds[k.Kind] = true
	}
	if len(kinds) > 1 || (len(kinds) == 1 && !kinds[store.NoticeFirst]) {
		b.WriteString("\nby kind:\n")
		for _, k := range r.ByKind {
			fmt.Fprintf(&b, "  %-10s %-10s %8d\n", k.Kind, k.State, k.N)
		}
	}
	if len(r.NoLongerAffected) > 0 {
		fmt.Fprintf(&b, "\nno longer affected in run %d (%d; sent a notice under another run; nothing is sent to them unless `notify send --corrections`):\n",
			r.Run, len(r.NoLongerAffected))
		writeIDs(&b, r.NoLongerAffected)
	}
	if len(r.Failures) > 0 {
		b.WriteString("\nfailures by reason:\n")
		for _, f := range r.Failures {
			fmt.Fprintf(&b, "  %8d  %s\n", f.Count, f.Reason)
		}
	}
	if len(r.Uncertain) > 0 {
		b.WriteString("\nuncertain (delivery unknown; `notify send` resends them with the same Message-ID, --uncertain=skip holds them):\n")
		writeIDs(&b, r.Uncertain)
	}
	if len(r.FailedUncertain) > 0 {
		fmt.Fprintf(&b, "\nfailed, delivery unknown (%d; out of attempts, the connection broke after the message was handed over; "+
			"--retry-failed resends them with the same Message-ID):\n", len(r.FailedUncertain))
		writeIDs(&b, r.FailedUncertain)
	}
	if len(r.SentInDoubt) > 0 {
		fmt.Fprintf(&b, "\nsent after being uncertain (%d; may have received the notice twice, same Message-ID):\n", len(r.SentInDoubt))
		writeIDs(&b, r.SentInDoubt)
	}
	if bc := r.Bounces; bc.Permanent+bc.Temporary > 0 {
		fmt.Fprintf(&b, "\nbounces (`notify bounces`): %d people with a permanent bounce, %d with temporary ones only\n", bc.Permanent, bc.Temporary)
		if len(bc.PermanentUsers) > 0 {
			b.WriteString("permanent bounces (the address does not take mail: reach them another way):\n")
			writeIDs(&b, bc.PermanentUsers)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeIDs(b *strings.Builder, ids []string) {
	shown := ids
	if len(shown) > maxListed {
		shown = shown[:maxListed]
	}
	fmt.Fprintf(b, "  %s", strings.Join(shown, " "))
	if len(ids) > len(shown) {
		fmt.Fprintf(b, " ... and %d more (--format json lists all)", len(ids)-len(shown))
	}
	b.WriteString("\n")
}
