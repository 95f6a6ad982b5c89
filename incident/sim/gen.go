package sim

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// edgeSpec is one CDN edge (PoP). Each has its own cache.
type edgeSpec struct {
	pop     string // the edge as the format writes it
	weight  int    // share of the traffic, percent
	cfOrder []int  // CloudFront #Fields order
}

// edgesFor returns the edges as format names them. Cloudflare logs a colo
// code, CloudFront an edge location with a cache suffix.
func edgesFor(format string) []edgeSpec {
	weights := []int{38, 27, 22, 13}
	var pops []string
	switch format {
	case FormatCloudflare:
		pops = []string{"NRT", "KIX", "FUK", "HKG"}
	case FormatCloudFront:
		pops = []string{"NRT51-C1", "NRT57-C3", "KIX56-C1", "HKG62-C2"}
	default:
		pops = []string{"NRT51", "NRT57", "KIX56", "HKG62"}
	}
	edges := make([]edgeSpec, len(pops))
	for i := range pops {
		edges[i] = edgeSpec{pop: pops[i], weight: weights[i], cfOrder: cfStandardOrder}
	}
	edges[len(edges)-1].cfOrder = cfAltOrder
	return edges
}

// gzipLevel is fixed: the same level gives the same bytes.
const gzipLevel = gzip.BestSpeed

// plan is everything the edges share (read-only while they run).
type plan struct {
	o         Options
	pop       *population
	site      *siteKeys
	edges     []edgeSpec
	perEdge   []int // requests per edge
	truncPer  []int // truncated lines per edge
	prec      int64 // ns: 1e6 or 1e9
	ttl       int64 // private objects' TTL, ns
	spanStart int64 // ns, logs begin (inclusive)
	spanEnd   int64 // ns, logs end (exclusive)
	winStart  int64 // ns, the declared window (inclusive)
	winEnd    int64 // ns, exclusive
	hours     []int64
	logsDir   string
	// bg is set for the scenarios other than cache: how the site's
	// ordinary traffic differs, and the scenario's own requests.
	bg *background
}

func newPlan(o Options, pop *population) (*plan, error) {
	p := &plan{
		o:         o,
		pop:       pop,
		site:      newSiteKeys(),
		edges:     edgesFor(o.Format),
		prec:      int64(time.Millisecond),
		ttl:       int64(o.TTL),
		winStart:  windowStart.UnixNano(),
		winEnd:    windowEnd.UnixNano(),
		spanStart: windowStart.Add(-logMargin).UnixNano(),
		spanEnd:   windowEnd.Add(logMargin).UnixNano(),
		logsDir:   filepath.Join(o.Out, "logs"),
	}
	if o.Precision == PrecisionSecond {
		p.prec = int64(time.Second)
	}
	for h := p.spanStart / int64(time.Hour); h*int64(time.Hour) < p.spanEnd; h++ {
		p.hours = append(p.hours, h)
	}

	// Requests per edge by weight, the rest to the busiest edge.
	p.perEdge = make([]int, len(p.edges))
	left := o.Requests
	for i := 1; i < len(p.edges); i++ {
		p.perEdge[i] = o.Requests * p.edges[i].weight / 100
		left -= p.perEdge[i]
	}
	p.perEdge[0] = left
	spanMs := (p.spanEnd - p.spanStart) / int64(time.Millisecond)
	if int64(p.perEdge[0]) > spanMs {
		return nil, fmt.Errorf("simulate: %d requests do not fit in the logs' span at one per millisecond per edge", o.Requests)
	}

	// About one line in 50,000 is truncated, at least one from 10,000 requests.
	k := int(math.Round(float64(o.Requests) / 50000))
	if k == 0 && o.Requests >= 10000 {
		k = 1
	}
	p.truncPer = make([]int, len(p.edges))
	for i := range p.truncPer {
		p.truncPer[i] = k / len(p.edges)
		if i < k%len(p.edges) {
			p.truncPer[i]++
		}
	}
	return p, nil
}

// event is one exposure: a cached personal page served to someone other
// than its owner.
type event struct {
	wt         int64 // time as written
	edge       int
	key        int
	cache      cacheResult
	victim     int32  // user index
	viewerSess int32  // session index, -1 when anonymous
	viewerIP   string // client address (the viewer when anonymous)
	cats       catMask
	ambiguous  bool // the one-second rule leaves more than one candidate object
}

// edgeResult is what one edge produced.
type edgeResult struct {
	files     []string // relative to Out, slash-separated
	lines     int64
	truncated int64
	events    []event
	stored    []catMask // per user: categories of their pages stored by fills in the window
	// failures counts failed logins per client address in bg.failFrom to
	// bg.failTo (background traffic only; scenarios with a login rule).
	failures map[string]int
}

// privObj is the object an edge holds for a private key during the window.
type privObj struct {
	filled bool
	expiry int64
	owner  int32 // user index; -1 for an anonymous fill (a redirect to /login)
	status int
}

// lineageRec is a FILL or an exposure on a private key, kept to apply the
// one-second rule (precision "s").
type lineageRec struct {
	sec   int64
	key   int
	fill  bool
	owner int32 // fill: user index of a personal object, -1 otherwise
	event int   // exposure: index into edgeResult.events
}

type generated struct {
	truth *truth
}

// generate writes the logs and computes the truth. It does not touch the
// user database.
func generate(ctx context.Context, o Options, pop *population) (*generated, error) {
	p, err := newPlan(o, pop)
	if err != nil {
		return nil, err
	}
	results, err := p.runEdges(ctx)
	if err != nil {
		return nil, err
	}
	return &generated{truth: p.buildTruth(results)}, nil
}

// runEdges runs every edge in parallel and writes their logs.
func (p *plan) runEdges(ctx context.Context) ([]*edgeResult, error) {
	if err := os.MkdirAll(p.logsDir, 0o700); err != nil {
		return nil, fmt.Errorf("simulate: create logs directory: %w", err)
	}
	results := make([]*edgeResult, len(p.edges))
	errs := make([]error, len(p.edges))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for e := range p.edges {
		wg.Go(func() {
			results[e], errs[e] = p.runEdge(ctx, e)
			if errs[e] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for e, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("simulate: edge %s: %w", p.edges[e].pop, err)
		}
	}
	return results, nil
}

// sampleSlots returns n distinct sorted values in [0, span): n sorted
// uniform values in [0, span-n] (normalised exponential spacings) plus their
// rank.
func sampleSlots(r *rand.Rand, n int, span int64) []int64 {
	out := make([]int64, n)
	cum := make([]float64, n)
	acc := 0.0
	for i := range cum {
		acc += r.ExpFloat64()
		cum[i] = acc
	}
	total := acc + r.ExpFloat64()
	room := span - int64(n)
	for i, c := range cum {
		v := int64(c / total * float64(room+1))
		out[i] = min(v, room) + int64(i)
	}
	return out
}

// pickUser returns a user index; some customers are much busier than others.
func pickUser(r *rand.Rand, n int) int32 {
	x := r.Float64()
	if r.IntN(4) == 0 {
		x = x * x * x
	}
	return int32(x * float64(n))
}

// pickRoute returns the key a client asks for and whether it POSTs.
func (p *plan) pickRoute(r *rand.Rand, loggedIn bool) (k int, post bool) {
	privShare, postShare := 30, 50 // per mille
	if loggedIn {
		privShare, postShare = 250, 5
	}
	if r.IntN(1000) < privShare {
		switch x := r.IntN(100); {
		case x < 28:
			return keyProfile, false
		case x < 42:
			return keyBank, false
		case x < 47:
			return keyBankEdit, false
		case x < 62:
			return keyCard, false
		case x < 88:
			return keyOrders, false
		default:
			return keyOrdersPage2, false
		}
	}
	x := r.IntN(1000)
	switch {
	case x < 140:
		return keyHome, false
	case x < 170:
		return keyLogin, false
	case x < 170+postShare:
		return keyLogin, true
	case x < 390+postShare:
		return keyFirstStatic + r.IntN(numStatic), false
	case x < 530+postShare:
		return p.site.firstWord + r.IntN(p.site.numSearch), false
	default:
		u := r.Float64()
		return p.site.firstItem + int(u*u*u*numItems), false
	}
}

// runEdge simulates one edge in time order and writes its log files.
func (p *plan) runEdge(ctx context.Context, e int) (*edgeResult, error) {
	seed := p.o.Seed
	stride := uint64(e) * streamStride
	r := newRand(seed, streamEdge+stride)
	rt := newRand(seed, streamTruncate+stride)
	users, sessions, anon, keys := p.pop.users, p.pop.sessions, p.pop.anon, p.site.keys
	secondRule := p.prec == int64(time.Second)

	n := p.perEdge[e]
	spanMs := (p.spanEnd - p.spanStart) / int64(time.Millisecond)
	slots := sampleSlots(r, n, spanMs)
	trunc := truncTargets(rt, p.truncPer[e], n)

	w := newHourWriter(p, e, newRand(seed, streamShuffle+stride))
	f := newFormatter(p.o.Format, p.prec == int64(time.Millisecond), p.edges[e].pop, p.edges[e].cfOrder, newRand(seed, streamIDs+stride))
	res := &edgeResult{stored: make([]catMask, len(users))}

	// A scenario's own requests, merged in time order with the traffic.
	loginFail, noLeak := 200, false
	var extras []*sreq
	var xf *formatter
	if bg := p.bg; bg != nil {
		loginFail, noLeak = bg.loginFail, true
		extras = bg.extras[e]
		xf = newFormatter(p.o.Format, p.prec == int64(time.Millisecond), p.edges[e].pop, p.edges[e].cfOrder, newRand(seed, streamScenarioIDs+stride))
		f.subject, xf.subject = bg.subjects, bg.subjects
		if bg.failTo > bg.failFrom {
			res.failures = map[string]int{}
		}
	}
	writeExtras := func(upTo int64) error {
		for len(extras) > 0 && extras[0].line.wt <= upTo {
			x := extras[0]
			extras = extras[1:]
			if err := w.toHour(x.line.wt); err != nil {
				return err
			}
			w.buf = xf.appendLine(w.buf, &x.line)
			w.ends = append(w.ends, len(w.buf))
			res.lines++
		}
		return nil
	}
	pubExpiry := make([]int64, len(keys)) // 0: never filled
	var priv [numPrivateKeys]privObj
	var lineage []lineageRec

	pending := 0 // truncations due
	var l lineIn
	for i := range n {
		if i&8191 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		t := (p.spanStart/int64(time.Millisecond)+slots[i])*int64(time.Millisecond) + r.Int64N(int64(time.Millisecond))
		wt := t - t%p.prec
		l.wt = wt
		if len(extras) > 0 {
			if err := writeExtras(wt); err != nil {
				return nil, err
			}
		}

		// Who asks.
		loggedIn := r.IntN(100) < 60
		requester, sess := int32(-1), int32(-1)
		if loggedIn {
			requester = pickUser(r, len(users))
			u := &users[requester]
			sess = u.firstSess + int32(r.IntN(int(u.nSess)))
			s := &sessions[sess]
			l.ip, l.ua, l.h2, l.sid, l.cookie = s.ip, s.ua, s.h2, s.id, s.cookie
		} else {
			a := &anon[r.IntN(len(anon))]
			l.ip, l.ua, l.h2, l.sid, l.cookie = a.ip, a.ua, a.h2, "", a.cookie
		}

		// What for.
		ki, post := p.pickRoute(r, loggedIn)
		if keys[ki].private && t >= p.winEnd && t < p.winEnd+int64(time.Second) {
			// Nothing private in the second the window closes, so that the
			// truth does not depend on whether a reader takes the window's
			// end as inclusive.
			ki = keyHome
		}
		k := &keys[ki]
		l.k, l.post = k, post
		l.ref = uint8(r.IntN(len(referers)))

		// What the edge does.
		switch {
		case post:
			l.cache, l.status = resPost, 302
			if r.IntN(100) < 15 {
				l.status = loginFail // login failed
				if res.failures != nil && wt >= p.bg.failFrom && wt < p.bg.failTo {
					res.failures[l.ip]++
				}
			}
		case !k.private:
			l.status = 200
			switch exp := pubExpiry[ki]; {
			case exp == 0:
				l.cache = resMiss
			case t < exp:
				l.cache = resHit
			default:
				l.cache = resExpired
			}
			if l.cache != resHit {
				pubExpiry[ki] = t + k.ttl
			}
		case t < p.winStart || t >= p.winEnd || noLeak:
			// Private pages are never cached outside the window; the
			// origin redirects anonymous clients to /login.
			l.cache, l.status = resOrigin, 200
			if !loggedIn {
				l.status = 302
			}
			if secondRule && writtenAsFill(p.o.Format, resOrigin) {
				lineage = append(lineage, lineageRec{sec: wt / int64(time.Second), key: ki, fill: true, owner: -1})
			}
		default:
			// The bug: private pages cached for TTL, keyed without identity.
			o := &priv[ki]
			fill := false
			switch {
			case !o.filled:
				l.cache, fill = resMiss, true
			case t < o.expiry:
				l.cache = resHit
			case r.IntN(100) < 40:
				l.cache = resRevalidated
				o.expiry = t + p.ttl
			default:
				l.cache, fill = resExpired, true
			}
			if fill {
				o.filled, o.expiry, o.owner, o.status = true, t+p.ttl, requester, 302
				if loggedIn {
					o.status = 200
					res.stored[requester] |= k.cats & users[requester].onFile
				}
				if secondRule {
					lineage = append(lineage, lineageRec{sec: wt / int64(time.Second), key: ki, fill: true, owner: o.owner})
				}
			} else if o.status == 200 && o.owner != requester {
				if secondRule {
					lineage = append(lineage, lineageRec{sec: wt / int64(time.Second), key: ki, event: len(res.events)})
				}
				res.events = append(res.events, event{
					wt: wt, edge: e, key: ki, cache: l.cache, victim: o.owner,
					viewerSess: sess, viewerIP: l.ip, cats: k.cats & users[o.owner].onFile,
				})
			}
			l.status = o.status
		}
		if p.bg != nil && p.bg.subjects {
			// The application names the logged-in user on every response.
			l.subject = ""
			if loggedIn {
				l.subject = strconv.FormatInt(users[requester].id, 10)
			}
		}
		switch {
		case l.status == 302:
			l.bytes = 154
		case post:
			l.bytes = 4100 + r.IntN(90)
		default:
			l.bytes = k.bytesLo + r.IntN(k.bytesHi-k.bytesLo)
		}

		// The line.
		if err := w.toHour(wt); err != nil {
			return nil, err
		}
		start := len(w.buf)
		w.buf = f.appendLine(w.buf, &l)
		for len(trunc) > 0 && trunc[0] == i {
			pending++
			trunc = trunc[1:]
		}
		if pending > 0 && !k.private {
			// Cut the line somewhere before its last field; keep the newline.
			line := w.buf[start : len(w.buf)-1]
			cut := 1 + rt.IntN(lastSeparator(p.o.Format, line))
			w.buf = append(w.buf[:start+cut], '\n')
			pending--
			res.truncated++
		}
		w.ends = append(w.ends, len(w.buf))
	}
	if err := writeExtras(math.MaxInt64); err != nil {
		return nil, err
	}
	if err := w.finish(); err != nil {
		return nil, err
	}
	res.files, res.lines = w.files, res.lines+int64(n)
	if secondRule {
		applySecondRule(lineage, res.events)
	}
	return res, nil
}

// truncTargets returns k distinct sorted request indices in the first 90%
// of n; the line truncated is the first public one from each.
func truncTargets(r *rand.Rand, k, n int) []int {
	limit := n * 9 / 10
	k = min(k, limit)
	seen := make(map[int]bool, k)
	out := make([]int, 0, k)
	for len(out) < k {
		i := r.IntN(limit)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// applySecondRule marks the exposures that DESIGN.md's one-second rule
// cannot attribute to their victim alone. For a CACHED response the
// candidates are the object of the last FILL before its second plus the
// objects of every FILL in its second (a non-personal or unknown object is a
// candidate too); the exposure is unambiguous when every candidate is the
// victim's page.
func applySecondRule(recs []lineageRec, events []event) {
	var byKey [numPrivateKeys][]*lineageRec
	for i := range recs {
		byKey[recs[i].key] = append(byKey[recs[i].key], &recs[i])
	}
	for _, rs := range byKey {
		prev := int32(-1) // the object before the current second: -1 unknown or non-personal
		for i := 0; i < len(rs); {
			// The records of this second: rs[i:j].
			j := i
			for j < len(rs) && rs[j].sec == rs[i].sec {
				j++
			}
			second := rs[i:j]
			for _, c := range second {
				if c.fill {
					continue
				}
				ev := &events[c.event]
				ev.ambiguous = prev != ev.victim
				for _, f := range second {
					if f.fill && f.owner != ev.victim {
						ev.ambiguous = true
					}
				}
			}
			for _, f := range second {
				if f.fill {
					prev = f.owner
				}
			}
			i = j
		}
	}
}

// hourWriter collects an edge's lines per UTC hour and writes each hour's
// file, locally shuffled, when the hour is over.
type hourWriter struct {
	p         *plan
	dir, rel  string
	rs        *rand.Rand // shuffles
	plainHour int        // the hour written uncompressed (nginx and jsonl), -1 for none
	header    []byte     // CloudFront's #Version and #Fields lines
	next      int        // index into p.hours of the hour being collected
	buf       []byte     // the hour's lines
	ends      []int      // end offset of each line in buf
	perm      []int
	bw        *bufio.Writer
	gz        *gzip.Writer
	files     []string
}

func newHourWriter(p *plan, e int, rs *rand.Rand) *hourWriter {
	pop := p.edges[e].pop
	w := &hourWriter{
		p:         p,
		dir:       filepath.Join(p.logsDir, pop),
		rel:       "logs/" + pop + "/",
		rs:        rs,
		plainHour: -1,
	}
	if p.o.Format == FormatNginx || p.o.Format == FormatJSONL {
		w.plainHour = int(splitmix(p.o.Seed+uint64(e)) % uint64(len(p.hours)))
	}
	if p.o.Format == FormatCloudFront {
		w.header = cloudFrontHeader(p.edges[e].cfOrder)
	}
	w.gz, _ = gzip.NewWriterLevel(nil, gzipLevel) // the level is valid
	w.bw = bufio.NewWriterSize(nil, 256<<10)
	// Room for an hour of lines, so that the buffer rarely grows.
	perHour := p.perEdge[e]*int(time.Hour/time.Millisecond)/int((p.spanEnd-p.spanStart)/int64(time.Millisecond)) + 64
	w.buf = make([]byte, 0, perHour*lineSizeHint(p.o.Format))
	w.ends = make([]int, 0, perHour)
	w.perm = make([]int, 0, perHour)
	return w
}

// toHour writes the files of the hours before wt's.
func (w *hourWriter) toHour(wt int64) error {
	h := wt / int64(time.Hour)
	for w.p.hours[w.next] != h {
		if err := w.flush(); err != nil {
			return err
		}
	}
	return nil
}

// finish writes the remaining hours.
func (w *hourWriter) finish() error {
	for w.next < len(w.p.hours) {
		if err := w.flush(); err != nil {
			return err
		}
	}
	return nil
}

// lineSizeHint is a generous average line length of format.
func lineSizeHint(format string) int {
	switch format {
	case FormatCloudFront, FormatCloudflare:
		return 500
	default:
		return 370
	}
}

// flush writes the collected hour's file and moves to the next hour.
func (w *hourWriter) flush() error {
	if w.next == 0 {
		if err := os.MkdirAll(w.dir, 0o700); err != nil {
			return err
		}
	}
	// Local shuffle: each line swaps with one up to 200 positions later.
	n := len(w.ends)
	w.perm = w.perm[:0]
	for i := range n {
		w.perm = append(w.perm, i)
	}
	for i := range n {
		j := min(i+w.rs.IntN(201), n-1)
		w.perm[i], w.perm[j] = w.perm[j], w.perm[i]
	}
	name := time.Unix(w.p.hours[w.next]*3600, 0).UTC().Format("2006-01-02T15") + ".log"
	plain := w.next == w.plainHour
	if !plain {
		name += ".gz"
	}
	if err := w.writeFile(filepath.Join(w.dir, name), plain); err != nil {
		return err
	}
	w.files = append(w.files, w.rel+name)
	w.next++
	w.buf, w.ends = w.buf[:0], w.ends[:0]
	return nil
}

func (w *hourWriter) writeFile(path string, plain bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if plain {
		w.bw.Reset(f)
	} else {
		w.gz.Reset(f) // a zero header: no name, no modification time
		w.bw.Reset(w.gz)
	}
	_, _ = w.bw.Write(w.header)
	for _, li := range w.perm {
		start := 0
		if li > 0 {
			start = w.ends[li-1]
		}
		_, _ = w.bw.Write(w.buf[start:w.ends[li]])
	}
	err = w.bw.Flush() // reports the first write error
	if err == nil && !plain {
		err = w.gz.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
