package logs

import (
	"fmt"

	"github.com/breachctl/breachctl/incident"
)

// Cloudflare http_requests logs, as documented by Cloudflare: the Logpush
// dataset's field list (Logs > Reference > Log fields > Zone-scoped >
// HTTP requests: EdgeStartTimestamp, ClientIP, ClientRequestHost,
// ClientRequestURI, ClientRequestPath, ClientRequestQuery,
// EdgeResponseStatus, CacheResponseStatus, OriginResponseStatus,
// CacheCacheStatus with its values "unknown | miss | expired | updating |
// stale | hit | ignored | bypass | revalidated | dynamic | stream_hit |
// deferred", EdgeColoCode, EdgeColoID, Cookies, RequestHeaders), "Cloudflare
// cache responses" (cache/concepts/cache-responses: what each
// CF-Cache-Status value means) and Logpull (the older API: the same field
// names, one JSON object per line, EdgeStartTimestamp in Unix nanoseconds
// by default, or Unix seconds or RFC 3339 with timestamps=unix|rfc3339;
// Logpush's timestamp_format gives the same three).

// cloudflareSlots bounds the values a Cloudflare line is read for: the
// keys below and at most three for the identity.
const cloudflareSlots = 16

// cloudflare parses Cloudflare Logpush and Logpull http_requests lines: one
// JSON object per line, read with the allocation-free scanner of
// jsonscan.go.
type cloudflare struct {
	vocab *Vocab
	q     jsonQuery
	// Slots of the keys read.
	ts, colo, coloID, ip, method, host, uri, path, query, status, cacheStatus, originStatus, cache int
	// Identity: field:NAME reads ident; cookie:NAME reads Cookies.NAME,
	// else the Cookie request header.
	ident      jsonField
	cookieObj  int
	cookieHdrs [2]int
	byCookie   bool
	cookie     []byte // the cookie name
	idKey      string // "Cookies.NAME" or NAME, for reject reasons
}

// NewCloudflare returns the parser for Cloudflare Logpush and Logpull JSON
// lines. Identity is cookie:NAME (the Cookies object's NAME, else the cookie
// request header in RequestHeaders), field:NAME (a top-level key, or a
// dotted path into nested objects, holding a string or a number) or none
// (Kind "": every request anonymous).
func NewCloudflare(id Identity) (Parser, error) {
	p := &cloudflare{vocab: cloudflareVocab, ident: noField, cookieObj: -1, cookieHdrs: [2]int{-1, -1}}
	q := &p.q
	for _, k := range []struct {
		slot *int
		name string
	}{
		{&p.ts, "EdgeStartTimestamp"},
		{&p.colo, "EdgeColoCode"},
		{&p.coloID, "EdgeColoID"},
		{&p.ip, "ClientIP"},
		{&p.method, "ClientRequestMethod"},
		{&p.host, "ClientRequestHost"},
		{&p.uri, "ClientRequestURI"},
		{&p.path, "ClientRequestPath"},
		{&p.query, "ClientRequestQuery"},
		{&p.status, "EdgeResponseStatus"},
		{&p.cacheStatus, "CacheResponseStatus"},
		{&p.originStatus, "OriginResponseStatus"},
		{&p.cache, "CacheCacheStatus"},
	} {
		s, err := q.add(k.name)
		if err != nil {
			return nil, err
		}
		*k.slot = s
	}
	var err error
	p.idKey = id.Name
	switch id.Kind {
	case "field":
		p.ident, err = q.addField(id.Name)
	case "cookie":
		p.byCookie, p.cookie = true, []byte(id.Name)
		p.idKey = "Cookies." + id.Name
		if p.cookieObj, err = q.add("Cookies", id.Name); err != nil {
			break
		}
		if p.cookieHdrs[0], err = q.add("RequestHeaders", "cookie"); err != nil {
			break
		}
		p.cookieHdrs[1], err = q.add("RequestHeaders", "Cookie")
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user does not exist in Cloudflare logs; use cookie:NAME or field:NAME")
	case "": // none: every request is anonymous
	default:
		return nil, fmt.Errorf("identity %q: want cookie:NAME or field:NAME", id.Kind)
	}
	if err != nil {
		return nil, fmt.Errorf("identity %s:%s: %w", id.Kind, id.Name, err)
	}
	if q.nslots > cloudflareSlots {
		return nil, fmt.Errorf("identity %s:%s: too many JSON values to read", id.Kind, id.Name)
	}
	return p, nil
}

// Parse implements Parser.
func (p *cloudflare) Parse(line []byte, rec *Record) error {
	var vals [cloudflareSlots]jsonValue
	if e, ok := p.q.scan(line, vals[:]); !ok {
		return reject(e.reason())
	}

	v := &vals[p.ts]
	if !v.present() {
		return reject("EdgeStartTimestamp missing")
	}
	var err error
	if rec.Time, rec.Coarse, err = jsonTime("EdgeStartTimestamp", v); err != nil {
		return err
	}

	// The status the viewer got: EdgeResponseStatus; without it (not in
	// the job's fields), what the cache gave the edge, else the origin's.
	switch {
	case vals[p.status].present():
		rec.Status, err = jsonStatus("EdgeResponseStatus", &vals[p.status])
	case vals[p.cacheStatus].present():
		rec.Status, err = jsonStatus("CacheResponseStatus", &vals[p.cacheStatus])
	case vals[p.originStatus].present():
		rec.Status, err = jsonStatus("OriginResponseStatus", &vals[p.originStatus])
	default:
		return reject("EdgeResponseStatus missing")
	}
	if err != nil {
		return err
	}

	if v = &vals[p.cache]; !v.present() {
		return reject("CacheCacheStatus missing")
	}
	if rec.CacheRaw, err = jsonText("CacheCacheStatus", v); err != nil {
		return err
	}
	rec.Cache = p.vocab.Classify(rec.CacheRaw)

	if v = &vals[p.uri]; v.present() {
		uri, err := jsonText("ClientRequestURI", v)
		if err != nil {
			return err
		}
		if err := splitTarget(uri, rec); err != nil {
			return err
		}
	} else if v = &vals[p.path]; v.present() {
		path, err := jsonText("ClientRequestPath", v)
		if err != nil {
			return err
		}
		// A path as logged ("//x" too); a full URL is split; else a reject.
		if len(path) > 0 && path[0] == '/' {
			rec.Path = path
		} else if err := splitTarget(path, rec); err != nil {
			return err
		}
		q, err := jsonText("ClientRequestQuery", &vals[p.query])
		if err != nil {
			return err
		}
		if len(q) > 0 && q[0] == '?' {
			q = q[1:]
		}
		if len(q) > 0 {
			rec.Query = q
		}
	} else {
		return reject("ClientRequestURI missing (and no ClientRequestPath)")
	}

	if v = &vals[p.colo]; v.present() {
		rec.Pop, err = jsonText("EdgeColoCode", v)
	} else {
		rec.Pop, err = jsonScalar("EdgeColoID", &vals[p.coloID])
	}
	if err != nil {
		return err
	}
	if v = &vals[p.ip]; v.present() { // absent: not in the Logpush job's fields
		ip, err := jsonText("ClientIP", v)
		if err != nil {
			return err
		}
		if rec.ClientIP, err = clientAddr("ClientIP", ip); err != nil {
			return err
		}
	}
	if rec.Method, err = jsonText("ClientRequestMethod", &vals[p.method]); err != nil {
		return err
	}
	// The Host header; without it, the host of a full-URL ClientRequestURI.
	if h, err := jsonText("ClientRequestHost", &vals[p.host]); err != nil {
		return err
	} else if len(h) > 0 {
		rec.Host = h
	}

	var id []byte
	if p.byCookie {
		if v = &vals[p.cookieObj]; v.present() {
			id, err = jsonScalar(p.idKey, v)
		} else {
			for _, s := range p.cookieHdrs {
				if v = &vals[s]; v.present() {
					var h []byte
					if h, err = jsonText("RequestHeaders.cookie", v); err == nil {
						id = CookieValue(h, p.cookie)
					}
					break
				}
			}
		}
	} else if v = p.ident.get(vals[:]); v != nil {
		id, err = jsonScalar(p.idKey, v)
	}
	if err != nil {
		return err
	}
	if !anonymous(id) {
		rec.Identity = id
	}
	return nil
}

func (p *cloudflare) setVocab(v *Vocab) { p.vocab = v }

// cloudflareVocab is CacheCacheStatus's (the values Logpush documents; the
// meanings are the cache-responses page's).
//
//   - FILL: miss (not in the cache, served from the origin, and stored when
//     cacheable), expired (in the cache but expired: fetched again and
//     stored).
//   - CACHED: hit; stale (expired, served from the cache because the origin
//     could not be reached); updating (expired, served from the cache while
//     the origin updates it); revalidated (the origin confirmed the stored
//     copy, which was served); ignored (the Logs glossary counts it among
//     "cached requests", with hit, stale and updating); stream_hit (a
//     Cloudflare Stream object served from the cache). A lower tier's first
//     request filled from an upper tier's cache (CacheTieredFill true) is
//     logged as hit: CACHED, as it should be (another request stored it).
//   - ORIGIN: bypass (the origin said not to cache: no-cache, private,
//     max-age=0, Set-Cookie), dynamic (not eligible for caching, nothing
//     set to cache it: fetched from the origin, not stored).
//   - UNKNOWN (counted and shown): unknown and none, because Cloudflare
//     logs a Worker's main request so while the subrequest it made carries
//     the cache status: that response may be a stored page (map them with
//     cache_values: {unknown: ORIGIN} when the zone runs no Worker: then
//     they are only WAF blocks and redirect rules); deferred, which the
//     field list names but no page explains.
var cloudflareVocab = NewVocab(
	[]string{"miss", "expired"},
	[]string{"hit", "stale", "updating", "revalidated", "ignored", "stream_hit"},
	[]string{"bypass", "dynamic"},
)

var cloudflareFormat = &Format{
	Name:  "cloudflare",
	Title: "Cloudflare http_requests logs: Logpush and Logpull (JSON lines)",
	Vocab: cloudflareVocab,
	Config: "push (or pull with fields=) EdgeStartTimestamp, ClientIP, ClientRequestMethod, ClientRequestHost, ClientRequestURI, EdgeResponseStatus, CacheCacheStatus and EdgeColoCode; " +
		"for identity cookie:NAME add the cookie to the job's custom fields (Cookies) or log RequestHeaders with cookie; field:NAME reads any key (dotted for nested). " +
		"Any timestamp format (unixnano, unix, rfc3339). unknown, none and deferred stay UNKNOWN (counted and shown: a Worker's main request is logged unknown), " +
		"map them with cache_values (e.g. unknown: ORIGIN when the zone runs no Worker). Takes cache_values, prefix, accept_missing",
	Example:   `{"EdgeStartTimestamp":1498092060123456789,"ClientIP":"203.0.113.9","ClientRequestMethod":"GET","ClientRequestHost":"www.example.jp","ClientRequestURI":"/mypage/profile?tab=1","EdgeResponseStatus":200,"CacheCacheStatus":"hit","EdgeColoCode":"NRT","RayID":"3723d2a4bb5a1c2e","Cookies":{"sid":"abc123"}}`,
	CacheHint: "add CacheCacheStatus to the Logpush job's fields (or Logpull's fields=)",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewCloudflare(id)
	},
}
