package sim

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// scenarioTruth is truth.json of the scenarios other than cache. Every
// event is one (request, victim) pair with categories left once
// intersected with what the victim has on file, with the level
// shared/briefs' semantics give it; affected is derived from the events.
type scenarioTruth struct {
	Case               string           `json:"case"`
	Seed               uint64           `json:"seed"`
	Scenario           string           `json:"scenario"`
	Format             string           `json:"format"`
	Precision          string           `json:"precision"`
	Window             truthWindow      `json:"window"`
	Requests           int64            `json:"requests"`
	Lines              int64            `json:"lines"`
	TruncatedLines     int64            `json:"truncated_lines"`
	Files              []string         `json:"files"`
	Events             []scenarioEvent  `json:"events"`
	UnattributedEvents int              `json:"unattributed_events"`
	Unattributed       []scenarioEvent  `json:"unattributed"`
	EmptyEvents        int              `json:"empty_events"`
	Affected           []scenarioPerson `json:"affected"`
	NearMisses         []nearMiss       `json:"near_misses"`
	Counts             scenarioCounts   `json:"counts"`
}

type scenarioEvent struct {
	Time       string   `json:"time"`
	Pop        string   `json:"pop"` // the edge whose log holds the request
	Rule       string   `json:"rule"`
	Victim     string   `json:"victim,omitempty"`
	Viewer     string   `json:"viewer"`
	Level      string   `json:"level,omitempty"`
	Categories []string `json:"categories"`
	Path       string   `json:"path"`
	Query      string   `json:"query,omitempty"`
	Status     int      `json:"status"`
}

type scenarioPerson struct {
	truthAffected          // the cache truth's person, as JSON: the same keys in the same order
	Rules         []string `json:"rules"`
}

type nearMiss struct {
	Time   string `json:"time"`
	Path   string `json:"path"`
	Query  string `json:"query,omitempty"`
	Status int    `json:"status"`
	Why    string `json:"why"`
}

type scenarioCounts struct {
	Confirmed int `json:"confirmed"`
	Possible  int `json:"possible"`
}

// truthOnFile is what users_query says is on file for u: the has_*
// columns, and every category without a column (name, email,
// purchase_history, government_id).
func (sc *scen) truthOnFile(u int32) catMask {
	return sc.pop.users[u].onFile | catName | catEmail | catPurchaseHistory | catGovernmentID
}

// viewerName names the party a scenario request went to (common.md):
// user:ID for a resolved identity, ip:ADDR without identity. Actor rules
// name the address always.
func (sc *scen) viewerName(x *sreq) string {
	if x.kind == evActorView || x.kind == evActorLogin || x.requester < 0 {
		return "ip:" + x.line.ip
	}
	return "user:" + sc.pop.users[x.requester].idString()
}

// writtenTime is wt as truth.json writes it (RFC 3339 UTC, milliseconds
// with millisecond precision).
func (sc *scen) writtenTime(wt int64) string {
	layout := "2006-01-02T15:04:05Z07:00"
	if sc.prec == int64(time.Millisecond) {
		layout = "2006-01-02T15:04:05.000Z07:00"
	}
	return time.Unix(0, wt).UTC().Format(layout)
}

// buildTruth derives the events from the scenario's annotated requests
// and the people from the events.
func (sc *scen) buildTruth(p *plan, results []*edgeResult) (*scenarioTruth, error) {
	us := sc.pop.users
	tr := &scenarioTruth{
		Case:      sc.o.CaseID,
		Seed:      sc.o.Seed,
		Scenario:  sc.o.Scenario,
		Format:    sc.o.Format,
		Precision: sc.o.Precision,
		Window: truthWindow{
			Start: windowStart.UTC().Format(time.RFC3339),
			End:   windowEnd.UTC().Format(time.RFC3339),
		},
		Requests:     int64(sc.o.Requests + len(sc.reqs)),
		Events:       []scenarioEvent{},
		Unattributed: []scenarioEvent{},
		Affected:     []scenarioPerson{},
		NearMisses:   []nearMiss{},
	}
	for _, r := range results {
		tr.Lines += r.lines
		tr.TruncatedLines += r.truncated
		tr.Files = append(tr.Files, r.files...)
	}
	slices.Sort(tr.Files)

	type ev struct {
		x      *sreq
		victim int32
		level  string
		cats   catMask
		viewer string
	}
	var evs []ev
	for _, x := range sc.reqs {
		if x.near != "" {
			if x.kind != evNone {
				return nil, fmt.Errorf("simulate: internal: near miss %q at %s counts for rule %s", x.near, sc.writtenTime(x.line.wt), x.rule)
			}
			tr.NearMisses = append(tr.NearMisses, nearMiss{
				Time: sc.writtenTime(x.line.wt), Path: x.line.k.path, Query: x.line.k.query, Status: x.line.status, Why: x.near,
			})
			continue
		}
		viewer := sc.viewerName(x)
		switch x.kind {
		case evNone:
		case evUnattributed:
			tr.UnattributedEvents++
			tr.Unattributed = append(tr.Unattributed, scenarioEvent{
				Time: sc.writtenTime(x.line.wt), Pop: p.edges[x.edge].pop, Rule: x.rule, Viewer: viewer, Categories: []string{},
				Path: x.line.k.path, Query: x.line.k.query, Status: x.line.status,
			})
		case evObject, evOwner:
			for _, v := range x.victims {
				if v == x.requester {
					continue // their own data
				}
				level := levelPossible
				if x.requester >= 0 || x.listed {
					level = levelConfirmed
				}
				evs = append(evs, ev{x, v, level, x.cats & sc.truthOnFile(v), viewer})
			}
		case evActorView:
			evs = append(evs, ev{x, x.victims[0], levelConfirmed, x.cats & sc.truthOnFile(x.victims[0]), viewer})
		case evActorLogin:
			evs = append(evs, ev{x, x.victims[0], levelPossible, x.cats & sc.truthOnFile(x.victims[0]), viewer})
		}
	}
	slices.SortStableFunc(tr.NearMisses, func(a, b nearMiss) int {
		return cmp.Or(cmp.Compare(a.Time, b.Time), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Query, b.Query))
	})
	slices.SortStableFunc(evs, func(a, b ev) int {
		return cmp.Or(
			cmp.Compare(a.x.line.wt, b.x.line.wt),
			cmp.Compare(a.x.rule, b.x.rule),
			cmp.Compare(us[a.victim].id, us[b.victim].id),
			cmp.Compare(a.viewer, b.viewer),
			cmp.Compare(a.x.line.k.uri, b.x.line.k.uri),
		)
	})

	type person struct {
		level          string
		cats, confCats catMask
		views          int
		viewers        map[string]bool
		first, last    int64
		rules          []string
	}
	people := map[int32]*person{}
	for _, e := range evs {
		if e.cats == 0 {
			tr.EmptyEvents++
			continue
		}
		tr.Events = append(tr.Events, scenarioEvent{
			Time: sc.writtenTime(e.x.line.wt), Pop: p.edges[e.x.edge].pop, Rule: e.x.rule, Victim: us[e.victim].idString(), Viewer: e.viewer,
			Level: e.level, Categories: e.cats.names(), Path: e.x.line.k.path, Query: e.x.line.k.query, Status: e.x.line.status,
		})
		pe := people[e.victim]
		if pe == nil {
			pe = &person{level: levelPossible, viewers: map[string]bool{}}
			people[e.victim] = pe
		}
		pe.cats |= e.cats
		if !slices.Contains(pe.rules, e.x.rule) {
			pe.rules = append(pe.rules, e.x.rule)
		}
		if e.level != levelConfirmed {
			continue
		}
		if pe.level != levelConfirmed {
			pe.first, pe.last = e.x.line.wt, e.x.line.wt
		}
		pe.level = levelConfirmed
		pe.confCats |= e.cats
		pe.views++
		pe.viewers[e.viewer] = true
		pe.first, pe.last = min(pe.first, e.x.line.wt), max(pe.last, e.x.line.wt)
	}
	for ui := range us {
		pe := people[int32(ui)]
		if pe == nil {
			continue
		}
		slices.Sort(pe.rules)
		a := scenarioPerson{truthAffected: truthAffected{
			UserID:              us[ui].idString(),
			Level:               pe.level,
			RuleLevel:           pe.level,
			Categories:          pe.cats.names(),
			ConfirmedCategories: pe.confCats.names(),
			Views:               pe.views,
			Viewers:             len(pe.viewers),
		}, Rules: pe.rules}
		if pe.level == levelConfirmed {
			first, last := sc.writtenTime(pe.first), sc.writtenTime(pe.last)
			a.FirstExposed, a.LastExposed = &first, &last
			tr.Counts.Confirmed++
		} else {
			tr.Counts.Possible++
		}
		tr.Affected = append(tr.Affected, a)
	}
	return tr, nil
}

// writeScenarioTruth writes tr as indented JSON, one event, person or near
// miss per line.
func writeScenarioTruth(path string, tr *scenarioTruth) error {
	return writeTruthFile(path, func(w *bufio.Writer) error { return encodeScenarioTruth(w, tr) })
}

func encodeScenarioTruth(w *bufio.Writer, tr *scenarioTruth) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	encode := func(v any) ([]byte, error) {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	type item struct {
		name string
		v    any
		list func() []any
	}
	listOf := func(n int, at func(i int) any) func() []any {
		return func() []any {
			out := make([]any, n)
			for i := range out {
				out[i] = at(i)
			}
			return out
		}
	}
	items := []item{
		{name: "case", v: tr.Case}, {name: "seed", v: tr.Seed}, {name: "scenario", v: tr.Scenario},
		{name: "format", v: tr.Format}, {name: "precision", v: tr.Precision}, {name: "window", v: tr.Window},
		{name: "requests", v: tr.Requests}, {name: "lines", v: tr.Lines}, {name: "truncated_lines", v: tr.TruncatedLines},
		{name: "files", v: tr.Files},
		{name: "events", list: listOf(len(tr.Events), func(i int) any { return &tr.Events[i] })},
		{name: "unattributed_events", v: tr.UnattributedEvents},
		{name: "unattributed", list: listOf(len(tr.Unattributed), func(i int) any { return &tr.Unattributed[i] })},
		{name: "empty_events", v: tr.EmptyEvents},
		{name: "affected", list: listOf(len(tr.Affected), func(i int) any { return &tr.Affected[i] })},
		{name: "near_misses", list: listOf(len(tr.NearMisses), func(i int) any { return &tr.NearMisses[i] })},
		{name: "counts", v: tr.Counts},
	}
	w.WriteString("{\n")
	for i, it := range items {
		w.WriteString("  " + strconv.Quote(it.name) + ": ")
		if it.list == nil {
			b, err := encode(it.v)
			if err != nil {
				return err
			}
			w.Write(b)
		} else {
			vs := it.list()
			w.WriteByte('[')
			for j, v := range vs {
				b, err := encode(v)
				if err != nil {
					return err
				}
				if j > 0 {
					w.WriteByte(',')
				}
				w.WriteString("\n    ")
				w.Write(b)
			}
			if len(vs) > 0 {
				w.WriteString("\n  ")
			}
			w.WriteByte(']')
		}
		if i < len(items)-1 {
			w.WriteByte(',')
		}
		w.WriteByte('\n')
	}
	_, err := w.WriteString("}\n")
	return err
}
