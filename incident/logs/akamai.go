package logs

import (
	"fmt"

	"github.com/breachctl/breachctl/incident"
)

// akamai parses Akamai DataStream 2 logs in the JSON log format: one object
// per line, every value a string, fields reported as "-" omitted. Built
// from Akamai's DataStream 2 documentation (techdocs.akamai.com/datastream2,
// "Log format" for the sample lines and "Data set parameters" for the
// fields: reqTimeSec, cliIP, reqMethod, reqHost, reqPath, queryStr,
// statusCode, cacheStatus, cacheable, edgeIP, cookie).
//
// The cache result is two fields: cacheStatus (1: served from the edge
// server's cache, 0: not) and cacheable (1: the response may be stored, 0:
// it may not). The documentation's note on moving from Frosty to DataStream
// gives their meaning together: both 1 is a cache hit at the edge; cacheable
// 1 with cacheStatus 0 is an object fetched from the parent tier or the
// origin, and stored (FILL); cacheable 0 is never stored (ORIGIN). The raw
// cache value is therefore "cacheStatus/cacheable" ("0/1"), or cacheStatus
// alone when the stream does not log cacheable ("0": FILL or ORIGIN cannot
// be told apart, so it stays unknown until cache_values says which).
//
// The structured (space- or tab-delimited) DataStream format has no header
// and a field order chosen per stream; it is not read here.
type akamai struct {
	vocab *Vocab
	q     jsonQuery
	// Slots of the keys read.
	ts, ip, method, host, path, query, status, cache, cacheable, edge int
	ident                                                             jsonField // field:NAME
	cookieAt                                                          int       // the cookie field, for cookie:NAME; -1 otherwise
	cookie                                                            []byte
	idKey                                                             string
}

// akamaiSlots bounds the values an Akamai line is read for.
const akamaiSlots = 16

// NewAkamai returns the parser for DataStream 2 JSON lines. The identity is
// cookie:NAME (from the cookie field, which the stream must log), field:NAME
// (any top-level key, or a dotted path into an object) or none.
func NewAkamai(id Identity) (Parser, error) {
	p := &akamai{vocab: akamaiVocab, ident: noField, cookieAt: -1}
	q := &p.q
	for _, k := range []struct {
		slot *int
		name string
	}{
		{&p.ts, "reqTimeSec"},
		{&p.ip, "cliIP"},
		{&p.method, "reqMethod"},
		{&p.host, "reqHost"},
		{&p.path, "reqPath"},
		{&p.query, "queryStr"},
		{&p.status, "statusCode"},
		{&p.cache, "cacheStatus"},
		{&p.cacheable, "cacheable"},
		{&p.edge, "edgeIP"},
	} {
		s, err := q.add(k.name)
		if err != nil {
			return nil, err
		}
		*k.slot = s
	}
	var err error
	switch id.Kind {
	case "":
	case "field":
		p.idKey = id.Name
		p.ident, err = q.addField(id.Name)
	case "cookie":
		p.idKey = "cookie " + id.Name
		p.cookie = []byte(id.Name)
		p.cookieAt, err = q.add("cookie")
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user does not exist in DataStream 2 logs; use cookie:NAME (log the Cookie field) or field:NAME")
	default:
		return nil, fmt.Errorf("identity %q: want cookie:NAME or field:NAME", id.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("identity %s:%s: %w", id.Kind, id.Name, err)
	}
	if q.nslots > akamaiSlots {
		return nil, fmt.Errorf("identity %s:%s: too many JSON values to read", id.Kind, id.Name)
	}
	return p, nil
}

// akamaiPairs are the raw cache values "cacheStatus/cacheable" for single
// digits, so that a line's value needs no allocation.
var akamaiPairs = func() (t [10][10][]byte) {
	for s := range t {
		for c := range t[s] {
			t[s][c] = []byte{byte('0' + s), '/', byte('0' + c)}
		}
	}
	return t
}()

// Parse implements Parser.
func (p *akamai) Parse(line []byte, rec *Record) error {
	var vals [akamaiSlots]jsonValue
	if e, ok := p.q.scan(line, vals[:]); !ok {
		return reject(e.reason())
	}

	v := &vals[p.ts]
	if !v.present() {
		return reject("reqTimeSec missing")
	}
	var err error
	if rec.Time, rec.Coarse, err = jsonTime("reqTimeSec", v); err != nil {
		return err
	}

	if v = &vals[p.status]; !v.present() {
		return reject("statusCode missing")
	}
	if rec.Status, err = jsonStatus("statusCode", v); err != nil {
		return err
	}

	if v = &vals[p.cache]; !v.present() {
		return reject("cacheStatus missing (add Cache status to the stream's data set)")
	}
	cs, err := jsonScalar("cacheStatus", v)
	if err != nil {
		return err
	}
	rec.CacheRaw = cs
	if v = &vals[p.cacheable]; v.present() {
		ca, err := jsonScalar("cacheable", v)
		if err != nil {
			return err
		}
		if len(cs) == 1 && len(ca) == 1 && cs[0]-'0' <= 9 && ca[0]-'0' <= 9 {
			rec.CacheRaw = akamaiPairs[cs[0]-'0'][ca[0]-'0']
		}
	}
	rec.Cache = p.vocab.Classify(rec.CacheRaw)

	if v = &vals[p.host]; v.present() {
		if rec.Host, err = jsonText("reqHost", v); err != nil {
			return err
		}
	}
	if v = &vals[p.path]; !v.present() {
		return reject("reqPath missing")
	}
	path, err := jsonText("reqPath", v)
	if err != nil {
		return err
	}
	if err := splitTarget(path, rec); err != nil {
		return err
	}
	if v = &vals[p.query]; v.present() {
		q, err := jsonText("queryStr", v)
		if err != nil {
			return err
		}
		if !anonymous(q) {
			rec.Query = q
		}
	}

	if v = &vals[p.ip]; v.present() {
		ip, err := jsonText("cliIP", v)
		if err != nil {
			return err
		}
		if rec.ClientIP, err = clientAddr("cliIP", ip); err != nil {
			return err
		}
	}
	if rec.Method, err = jsonText("reqMethod", &vals[p.method]); err != nil {
		return err
	}
	if rec.Pop, err = jsonText("edgeIP", &vals[p.edge]); err != nil {
		return err
	}
	rec.Pop = dash(rec.Pop)

	var id []byte
	switch {
	case p.cookieAt >= 0:
		if v = &vals[p.cookieAt]; v.present() {
			var h []byte
			if h, err = jsonText("cookie", v); err == nil && !anonymous(h) {
				// DataStream hex-encodes spaces and other octets
				// outside 0x21-0x7E (RFC 1738).
				id = CookieValue(decodeInPlace(h), p.cookie)
			}
		}
	default:
		if v = p.ident.get(vals[:]); v != nil {
			id, err = jsonScalar(p.idKey, v)
		}
	}
	if err != nil {
		return err
	}
	if !anonymous(id) {
		rec.Identity = id
	}
	return nil
}

func (p *akamai) setVocab(v *Vocab) { p.vocab = v }

// akamaiVocab maps "cacheStatus/cacheable" (or cacheStatus alone): see
// akamai. cacheStatus 1 is a response served from the edge's cache,
// whatever cacheable says.
var akamaiVocab = NewVocab(
	[]string{"0/1"},
	[]string{"1", "1/1", "1/0"},
	[]string{"0/0"},
)

var akamaiFormat = &Format{
	Name:  "akamai",
	Title: "Akamai DataStream 2 (JSON log format, one object per line); the cache result is cacheStatus/cacheable",
	Vocab: akamaiVocab,
	Config: "in the stream's data set log Request time, Client IP, Request method, Request host, Request path, Query string, HTTP status code, " +
		"Cache status and Cacheable (both: cacheStatus alone cannot tell a stored miss from an uncacheable one), Edge IP (the pop), " +
		"and Cookie for identity cookie:NAME; choose the JSON log format",
	Example:   `{"version":"1","streamId":"12345","reqTimeSec":"1498092060.123","cliIP":"203.0.113.9","reqMethod":"GET","reqHost":"www.example.jp","reqPath":"/mypage/profile","statusCode":"200","cacheStatus":"1","cacheable":"1","edgeIP":"23.50.51.173","cookie":"sid=abc"}`,
	CacheHint: "add Cache status and Cacheable to the DataStream stream's data set",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewAkamai(id)
	},
}

// jsonRecords: a DataStream 2 file may hold a JSON array or pretty-printed
// records (see jsonframe.go).
func (p *akamai) jsonRecords() {}
