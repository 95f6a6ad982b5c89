package sim

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"
)

// truth is truth.json: the ground truth of a simulated incident.
//
// Besides the fields the brief asks for, it carries what DESIGN.md's
// one-second rule must conclude from these very logs: per event whether the
// rule leaves more than one candidate object ("ambiguous"), and per person
// the level the rule yields ("rule_level"). With millisecond precision they
// equal the ground truth.
type truth struct {
	Case           string          `json:"case"`
	Seed           uint64          `json:"seed"`
	Format         string          `json:"format"`
	Precision      string          `json:"precision"`
	TTLSeconds     float64         `json:"ttl_seconds"`
	Window         truthWindow     `json:"window"`
	Requests       int64           `json:"requests"`
	Lines          int64           `json:"lines"`
	TruncatedLines int64           `json:"truncated_lines"`
	Edges          []string        `json:"edges"`
	Files          []string        `json:"files"`
	Events         []truthEvent    `json:"events"`
	EmptyEvents    int             `json:"empty_events"`
	Affected       []truthAffected `json:"affected"`
	// AffectedByEdge is affected as each edge alone shows it: from that
	// edge's events and stored pages only (the cache lineage is per edge,
	// so these are exact). Every edge has a key.
	AffectedByEdge map[string][]truthEdgeAffected `json:"affected_by_edge"`
	Counts         truthCounts                    `json:"counts"`
}

type truthWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type truthEvent struct {
	Time          string   `json:"time"`
	Pop           string   `json:"pop"`
	Host          string   `json:"host"`
	Path          string   `json:"path"`
	Query         string   `json:"query"`
	Status        int      `json:"status"`
	Cache         string   `json:"cache"`
	Victim        string   `json:"victim"`
	Viewer        string   `json:"viewer"`
	ViewerSession string   `json:"viewer_session"`
	Categories    []string `json:"categories"`
	Ambiguous     bool     `json:"ambiguous"`
}

type truthAffected struct {
	UserID              string   `json:"user_id"`
	Level               string   `json:"level"`
	Categories          []string `json:"categories"`
	ConfirmedCategories []string `json:"confirmed_categories"`
	Views               int      `json:"views"`
	Viewers             int      `json:"viewers"`
	FirstExposed        *string  `json:"first_exposed"`
	LastExposed         *string  `json:"last_exposed"`
	RuleLevel           string   `json:"rule_level"`
}

// truthEdgeAffected is one person as one edge shows them: like
// truthAffected, with the viewers named (the distinct viewer names of
// their confirmed events on that edge, sorted) so that edges merge exactly.
type truthEdgeAffected struct {
	UserID              string   `json:"user_id"`
	Level               string   `json:"level"`
	Categories          []string `json:"categories"`
	ConfirmedCategories []string `json:"confirmed_categories"`
	Views               int      `json:"views"`
	Viewers             []string `json:"viewers"`
	FirstExposed        *string  `json:"first_exposed"`
	LastExposed         *string  `json:"last_exposed"`
	RuleLevel           string   `json:"rule_level"`
}

type truthCounts struct {
	Confirmed     int `json:"confirmed"`
	Possible      int `json:"possible"`
	RuleConfirmed int `json:"rule_confirmed"`
	RulePossible  int `json:"rule_possible"`
}

const (
	levelConfirmed = "confirmed"
	levelPossible  = "possible"
)

// writtenTime formats a written time as RFC 3339 UTC with the precision's
// digits (three for "ms", none for "s").
func (p *plan) writtenTime(wt int64) string {
	layout := "2006-01-02T15:04:05Z07:00"
	if p.prec == int64(time.Millisecond) {
		layout = "2006-01-02T15:04:05.000Z07:00"
	}
	return time.Unix(0, wt).UTC().Format(layout)
}

func (p *plan) viewer(ev *event) string {
	if ev.viewerSess < 0 {
		return "ip:" + ev.viewerIP
	}
	return "user:" + strconv.FormatInt(p.pop.users[p.pop.sessions[ev.viewerSess].user].id, 10)
}

// buildTruth merges the edges' results.
func (p *plan) buildTruth(results []*edgeResult) *truth {
	users := p.pop.users
	tr := &truth{
		Case:       p.o.CaseID,
		Seed:       p.o.Seed,
		Format:     p.o.Format,
		Precision:  p.o.Precision,
		TTLSeconds: p.o.TTL.Seconds(),
		Window: truthWindow{
			Start: windowStart.UTC().Format(time.RFC3339),
			End:   windowEnd.UTC().Format(time.RFC3339),
		},
		Requests: int64(p.o.Requests),
		Events:   []truthEvent{},
		Affected: []truthAffected{},
	}
	for _, e := range p.edges {
		tr.Edges = append(tr.Edges, e.pop)
	}

	type keyed struct {
		ev     *event
		viewer string
	}
	var all []keyed
	stored := make([]catMask, len(users))
	for _, r := range results {
		tr.Lines += r.lines
		tr.TruncatedLines += r.truncated
		tr.Files = append(tr.Files, r.files...)
		for i := range r.events {
			all = append(all, keyed{&r.events[i], p.viewer(&r.events[i])})
		}
		for u, m := range r.stored {
			stored[u] |= m
		}
	}
	slices.Sort(tr.Files)
	slices.SortStableFunc(all, func(a, b keyed) int {
		return cmp.Or(
			cmp.Compare(a.ev.wt, b.ev.wt),
			cmp.Compare(p.edges[a.ev.edge].pop, p.edges[b.ev.edge].pop),
			cmp.Compare(a.viewer, b.viewer),
			cmp.Compare(a.ev.key, b.ev.key),
		)
	})

	type person struct {
		confirmed     catMask
		views         int
		viewers       int
		first, last   int64
		ruleConfirmed bool
	}
	people := make(map[int32]*person)
	seenViewer := make(map[struct {
		victim int32
		viewer string
	}]bool)
	type edgePerson struct {
		confirmed     catMask
		views         int
		viewers       []string // distinct, in order of first view
		first, last   int64
		ruleConfirmed bool
	}
	seenEdgeViewer := make(map[struct {
		edge   int
		victim int32
		viewer string
	}]bool)
	byEdge := make([]map[int32]*edgePerson, len(p.edges))
	for e := range byEdge {
		byEdge[e] = make(map[int32]*edgePerson)
	}
	words := cacheWords(p.o.Format)
	for _, a := range all {
		ev := a.ev
		k := &p.site.keys[ev.key]
		victim := strconv.FormatInt(users[ev.victim].id, 10)
		te := truthEvent{
			Time:       p.writtenTime(ev.wt),
			Pop:        p.edges[ev.edge].pop,
			Host:       siteHost,
			Path:       k.path,
			Query:      k.query,
			Status:     200,
			Cache:      words[ev.cache],
			Victim:     victim,
			Viewer:     a.viewer,
			Categories: ev.cats.names(),
			Ambiguous:  ev.ambiguous,
		}
		if ev.viewerSess >= 0 {
			te.ViewerSession = p.pop.sessions[ev.viewerSess].id
		}
		tr.Events = append(tr.Events, te)
		if ev.cats == 0 {
			tr.EmptyEvents++
			continue
		}
		pe := people[ev.victim]
		if pe == nil {
			pe = &person{first: ev.wt, last: ev.wt}
			people[ev.victim] = pe
		}
		pe.confirmed |= ev.cats
		pe.views++
		pe.first, pe.last = min(pe.first, ev.wt), max(pe.last, ev.wt)
		pe.ruleConfirmed = pe.ruleConfirmed || !ev.ambiguous
		sv := struct {
			victim int32
			viewer string
		}{ev.victim, a.viewer}
		if !seenViewer[sv] {
			seenViewer[sv] = true
			pe.viewers++
		}
		ep := byEdge[ev.edge][ev.victim]
		if ep == nil {
			ep = &edgePerson{first: ev.wt, last: ev.wt}
			byEdge[ev.edge][ev.victim] = ep
		}
		ep.confirmed |= ev.cats
		ep.views++
		ep.first, ep.last = min(ep.first, ev.wt), max(ep.last, ev.wt)
		ep.ruleConfirmed = ep.ruleConfirmed || !ev.ambiguous
		ev2 := struct {
			edge   int
			victim int32
			viewer string
		}{ev.edge, ev.victim, a.viewer}
		if !seenEdgeViewer[ev2] {
			seenEdgeViewer[ev2] = true
			ep.viewers = append(ep.viewers, a.viewer)
		}
	}

	// Users are in increasing id order.
	for ui := range users {
		pe := people[int32(ui)]
		if pe == nil && stored[ui] == 0 {
			continue
		}
		a := truthAffected{
			UserID:              strconv.FormatInt(users[ui].id, 10),
			Level:               levelPossible,
			RuleLevel:           levelPossible,
			ConfirmedCategories: []string{},
		}
		m := stored[ui]
		if pe != nil {
			m |= pe.confirmed
			first, last := p.writtenTime(pe.first), p.writtenTime(pe.last)
			a.Level = levelConfirmed
			a.ConfirmedCategories = pe.confirmed.names()
			a.Views, a.Viewers = pe.views, pe.viewers
			a.FirstExposed, a.LastExposed = &first, &last
			if pe.ruleConfirmed {
				a.RuleLevel = levelConfirmed
			}
		}
		a.Categories = m.names()
		tr.Affected = append(tr.Affected, a)
		if a.Level == levelConfirmed {
			tr.Counts.Confirmed++
		} else {
			tr.Counts.Possible++
		}
		if a.RuleLevel == levelConfirmed {
			tr.Counts.RuleConfirmed++
		} else {
			tr.Counts.RulePossible++
		}
	}

	// Per edge, the same from that edge's events and stored pages. The
	// results are in edge order (runEdges).
	tr.AffectedByEdge = make(map[string][]truthEdgeAffected, len(p.edges))
	for e, r := range results {
		list := []truthEdgeAffected{}
		for ui := range users {
			ep := byEdge[e][int32(ui)]
			if ep == nil && r.stored[ui] == 0 {
				continue
			}
			a := truthEdgeAffected{
				UserID:              strconv.FormatInt(users[ui].id, 10),
				Level:               levelPossible,
				RuleLevel:           levelPossible,
				ConfirmedCategories: []string{},
				Viewers:             []string{},
			}
			m := r.stored[ui]
			if ep != nil {
				m |= ep.confirmed
				first, last := p.writtenTime(ep.first), p.writtenTime(ep.last)
				a.Level = levelConfirmed
				a.ConfirmedCategories = ep.confirmed.names()
				a.Views = ep.views
				a.Viewers = slices.Sorted(slices.Values(ep.viewers))
				a.FirstExposed, a.LastExposed = &first, &last
				if ep.ruleConfirmed {
					a.RuleLevel = levelConfirmed
				}
			}
			a.Categories = m.names()
			list = append(list, a)
		}
		tr.AffectedByEdge[p.edges[e].pop] = list
	}
	return tr
}

// writeTruth writes tr as indented JSON with one event per line.
func writeTruth(path string, tr *truth) error {
	return writeTruthFile(path, func(w *bufio.Writer) error { return encodeTruth(w, tr) })
}

// writeTruthFile creates path (0600, never over an existing file) and
// writes it with encode, buffered.
func writeTruthFile(path string, encode func(w *bufio.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("simulate: write truth: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	err = encode(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("simulate: write truth %s: %w", path, err)
	}
	return nil
}

func encodeTruth(w *bufio.Writer, tr *truth) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	field := func(name string, v any, last bool) error {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return err
		}
		w.WriteString("  \"" + name + "\": ")
		w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		if !last {
			w.WriteByte(',')
		}
		return w.WriteByte('\n')
	}
	list := func(name string, n int, item func(i int) any) error {
		w.WriteString("  \"" + name + "\": [")
		for i := range n {
			buf.Reset()
			if err := enc.Encode(item(i)); err != nil {
				return err
			}
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString("\n    ")
			w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		}
		if n > 0 {
			w.WriteString("\n  ")
		}
		_, err := w.WriteString("],\n")
		return err
	}
	w.WriteString("{\n")
	for _, f := range []struct {
		name string
		v    any
	}{
		{"case", tr.Case}, {"seed", tr.Seed}, {"format", tr.Format}, {"precision", tr.Precision},
		{"ttl_seconds", tr.TTLSeconds}, {"window", tr.Window}, {"requests", tr.Requests},
		{"lines", tr.Lines}, {"truncated_lines", tr.TruncatedLines}, {"edges", tr.Edges},
		{"files", tr.Files},
	} {
		if err := field(f.name, f.v, false); err != nil {
			return err
		}
	}
	if err := list("events", len(tr.Events), func(i int) any { return &tr.Events[i] }); err != nil {
		return err
	}
	if err := field("empty_events", tr.EmptyEvents, false); err != nil {
		return err
	}
	if err := list("affected", len(tr.Affected), func(i int) any { return &tr.Affected[i] }); err != nil {
		return err
	}
	// affected_by_edge: one edge per key in key order (as encoding/json
	// orders a map), one person per line.
	w.WriteString("  \"affected_by_edge\": {")
	for i, pop := range slices.Sorted(maps.Keys(tr.AffectedByEdge)) {
		if i > 0 {
			w.WriteByte(',')
		}
		people := tr.AffectedByEdge[pop]
		buf.Reset()
		if err := enc.Encode(pop); err != nil {
			return err
		}
		w.WriteString("\n    ")
		w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		w.WriteString(": [")
		for j := range people {
			buf.Reset()
			if err := enc.Encode(&people[j]); err != nil {
				return err
			}
			if j > 0 {
				w.WriteByte(',')
			}
			w.WriteString("\n      ")
			w.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		}
		if len(people) > 0 {
			w.WriteString("\n    ")
		}
		w.WriteByte(']')
	}
	if len(tr.AffectedByEdge) > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("},\n")
	if err := field("counts", tr.Counts, true); err != nil {
		return err
	}
	_, err := w.WriteString("}\n")
	return err
}
