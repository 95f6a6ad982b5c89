package triage

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/templates"
)

var htmlTmpl = template.Must(template.New("triage.html.tmpl").Funcs(template.FuncMap{
	"num":          func(n int) string { return group(int64(n)) },
	"num64":        group,
	"viewersTitle": ViewersTitle,
}).ParseFS(templates.FS, "triage.html.tmpl"))

type bar struct {
	X, W, YC, HC, YP, HP float64
	Confirmed, Possible  int
	Label                string
	Tick                 bool
}

type kvPair struct {
	K string
	V int
}

type htmlData struct {
	S                   *Summary
	Zone, Ingested      string
	WindowDeclared      string
	WindowObserved      string
	OutsideWindow       bool
	Bars                []bar
	Max                 int
	ChartW, ChartH      float64
	BaseY, LabelY       float64
	Categories, Regions []kvPair
	// UnknownCache: the run's unknown cache results, most frequent first;
	// FileUnknown: each file's, as one line.
	UnknownCache []incident.ValueCount
	FileUnknown  map[string]string
}

// WriteHTML writes one self-contained page (inline CSS and SVG, no external
// assets) to open offline and forward to legal.
func (s *Summary) WriteHTML(w io.Writer) error {
	loc := s.location
	if loc == nil {
		loc = time.UTC
	}
	d := htmlData{S: s, Zone: loc.String(), ChartW: 900, ChartH: 180, BaseY: 150, LabelY: 166}
	if s.Ingested != nil {
		d.Ingested = s.Ingested.In(loc).Format("2006-01-02 15:04 MST")
	}
	d.WindowDeclared = fmt.Sprintf("%s – %s (%s)", s.Window.Start.In(loc).Format("2006-01-02 15:04"), s.Window.End.In(loc).Format("2006-01-02 15:04"),
		hm(s.Window.End.Sub(s.Window.Start)))
	d.UnknownCache = incident.SortedCounts(s.Totals.UnknownCache)
	d.FileUnknown = map[string]string{}
	for _, e := range s.Evidence {
		if len(e.UnknownCache) > 0 {
			d.FileUnknown[e.Path] = incident.CountList(e.UnknownCache, 0)
		}
	}
	if s.Observed.FirstExposure != nil {
		fe, le := s.Observed.FirstExposure.In(loc), s.Observed.LastExposure.In(loc)
		d.WindowObserved = fmt.Sprintf("%s – %s", fe.Format("2006-01-02 15:04:05"), le.Format("2006-01-02 15:04:05"))
		d.OutsideWindow = fe.Before(s.Window.Start) || le.After(s.Window.End)
	}
	if n := len(s.Timeline); n > 0 {
		first, last := s.Timeline[0].Start, s.Timeline[n-1].Start
		slots := int(last.Sub(first)/correlate.Bucket) + 1
		by := map[int64]correlate.TimelineBucket{}
		for _, b := range s.Timeline {
			by[b.Start.UnixNano()] = b
			if t := b.Confirmed + b.Possible; t > d.Max {
				d.Max = t
			}
		}
		width := (d.ChartW - 44) / float64(slots)
		for i := 0; i < slots; i++ {
			at := first.Add(time.Duration(i) * correlate.Bucket)
			b := by[at.UnixNano()]
			x := 44 + float64(i)*width
			hc := float64(b.Confirmed) / float64(d.Max) * (d.BaseY - 10)
			hp := float64(b.Possible) / float64(d.Max) * (d.BaseY - 10)
			d.Bars = append(d.Bars, bar{X: x, W: width * 0.85, YC: d.BaseY - hc, HC: hc, YP: d.BaseY - hc - hp, HP: hp,
				Confirmed: b.Confirmed, Possible: b.Possible, Label: at.In(loc).Format("15:04"), Tick: i%6 == 0})
		}
	}
	for k, v := range s.ByCategory {
		d.Categories = append(d.Categories, kvPair{k, v})
	}
	for k, v := range s.ByRegion {
		d.Regions = append(d.Regions, kvPair{k, v})
	}
	for _, l := range [][]kvPair{d.Categories, d.Regions} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].V != l[j].V {
				return l[i].V > l[j].V
			}
			return l[i].K < l[j].K
		})
	}
	return htmlTmpl.Execute(w, d)
}
