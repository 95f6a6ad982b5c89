package bounce

import (
	"context"
	"slices"
	"sort"

	"github.com/breachctl/breachctl/incident/store"
)

// Place is a message of a source: the file as named and its position.
type Place struct {
	Source   string `json:"source"`
	Position int    `json:"position"`
}

// Result is what reading sources found and recorded.
type Result struct {
	Files    int `json:"files"`
	Messages int `json:"messages"`
	DSNs     int `json:"dsns"`
	NotDSNs  int `json:"not_dsns"`
	// Failed counts the failed or delayed recipients of the DSNs.
	Failed           int `json:"failed_recipients"`
	Matched          int `json:"matched"`
	MatchedPermanent int `json:"matched_permanent"`
	MatchedTemporary int `json:"matched_temporary"`
	Unmatched        int `json:"unmatched"`
	// Recorded counts the matched bounces new to the case database;
	// Matched-Recorded were recorded by an earlier read of the same file.
	Recorded int `json:"recorded"`
	// Bounced lists the user ids whose e-mail notice a permanent bounce
	// marked bounced in the ledger (read now or before): their notice did
	// not reach them, so the channel policy's next channel is due.
	Bounced []string `json:"bounced"`
	// UnmatchedAt lists the DSNs with an unmatched failed recipient: no
	// original Message-ID, or one no notice of the case has.
	UnmatchedAt []Place `json:"unmatched_at"`
}

// Record matches the failed recipients of the sources' DSNs to the case's
// notices by the original Message-ID and records them. Nothing is matched
// any other way.
func Record(ctx context.Context, st *store.Store, caseID string, srcs []*Source) (*Result, error) {
	res := &Result{Files: len(srcs), UnmatchedAt: []Place{}}
	idSet := map[string]bool{}
	for _, s := range srcs {
		for _, m := range s.Messages {
			if m.DSN != nil && m.DSN.MessageID != "" {
				idSet[m.DSN.MessageID] = true
			}
		}
	}
	ids := make([]string, 0, len(idSet))
	for id := range idSet {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	targets, err := st.NoticesByMessageID(ctx, caseID, ids)
	if err != nil {
		return nil, err
	}
	var rows []store.Bounce
	for _, s := range srcs {
		for _, m := range s.Messages {
			res.Messages++
			if m.NotDSN {
				res.NotDSNs++
				continue
			}
			res.DSNs++
			target, ok := targets[m.DSN.MessageID]
			listed := false
			for i, r := range m.DSN.Recipients {
				if !r.Failed() {
					continue
				}
				res.Failed++
				if !ok {
					res.Unmatched++
					if !listed {
						res.UnmatchedAt = append(res.UnmatchedAt, Place{s.Path, m.Position})
						listed = true
					}
					continue
				}
				res.Matched++
				if r.Permanent() {
					res.MatchedPermanent++
				} else {
					res.MatchedTemporary++
				}
				rows = append(rows, store.Bounce{BounceTarget: target, Status: r.Status, Action: r.Action,
					Diagnostic: r.Diagnostic, Permanent: r.Permanent(), Source: s.Path, Position: m.Position,
					Recipient: i + 1, SourceSHA256: s.SHA256})
			}
		}
	}
	if res.Recorded, err = st.RecordBounces(ctx, caseID, rows); err != nil {
		return nil, err
	}
	// A permanent bounce: the notice did not reach its person. Reading the
	// same file again marks the same notices (nothing changes).
	var perm []string
	seen := map[string]bool{}
	for _, r := range rows {
		if r.Permanent && !seen[r.MessageID] {
			seen[r.MessageID] = true
			perm = append(perm, r.MessageID)
		}
	}
	sort.Strings(perm)
	if res.Bounced, _, err = st.MarkUnreached(ctx, caseID, 0, store.ChannelEmail, perm); err != nil {
		return nil, err
	}
	sort.Strings(res.Bounced)
	res.Bounced = slices.Compact(res.Bounced)
	if res.Bounced == nil {
		res.Bounced = []string{}
	}
	return res, nil
}
