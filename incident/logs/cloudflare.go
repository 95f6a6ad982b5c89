package logs

import (
	"fmt"

	"github.com/breachctl/breachctl/incident"
)

// cloudflareSlots bounds the values a Cloudflare line is read for: the
// keys below and at most three for the identity.
const cloudflareSlots = 16

// cloudflare parses Cloudflare Logpush http_requests lines: one JSON object
// per line, read with the allocation-free scanner of jsonscan.go.
type cloudflare struct {
	vocab *Vocab
	q     jsonQuery
	// Slots of the keys read.
	ts, colo, coloID, ip, method, host, uri, path, query, status, originStatus, cache int
	// Identity: field:NAME reads ident; cookie:NAME reads Cookies.NAME,
	// else the Cookie request header.
	ident      jsonField
	cookieObj  int
	cookieHdrs [2]int
	byCookie   bool
	cookie     []byte // the cookie name
	idKey      string // "Cookies.NAME" or NAME, for reject reasons
}

// NewCloudflare returns the parser for Cloudflare Logpush JSON lines.
// Identity is cookie:NAME (the Cookies object's NAME, else the cookie
// request header in RequestHeaders) or field:NAME (a top-level key, or a
// dotted path into nested objects, holding a string or a number).
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

	if v = &vals[p.status]; !v.present() {
		if v = &vals[p.originStatus]; !v.present() {
			return reject("EdgeResponseStatus missing")
		}
		rec.Status, err = jsonStatus("OriginResponseStatus", v)
	} else {
		rec.Status, err = jsonStatus("EdgeResponseStatus", v)
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
		if rec.Path, err = jsonText("ClientRequestPath", v); err != nil {
			return err
		}
		if rec.Query, err = jsonText("ClientRequestQuery", &vals[p.query]); err != nil {
			return err
		}
		if len(rec.Query) > 0 && rec.Query[0] == '?' {
			rec.Query = rec.Query[1:]
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
	if rec.Host, err = jsonText("ClientRequestHost", &vals[p.host]); err != nil {
		return err
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

// cloudflareVocab is CacheCacheStatus's.
var cloudflareVocab = NewVocab(
	[]string{"miss", "expired"},
	[]string{"hit", "stale", "updating", "revalidated"},
	[]string{"bypass", "dynamic"},
)

var cloudflareFormat = &Format{
	Name:      "cloudflare",
	Title:     "Cloudflare Logpush http_requests (JSON lines)",
	Vocab:     cloudflareVocab,
	Config:    "push the fields EdgeStartTimestamp, ClientIP, ClientRequestMethod, ClientRequestHost, ClientRequestURI, EdgeResponseStatus, CacheCacheStatus, EdgeColoCode, and Cookies (or RequestHeaders with cookie) for identity cookie:NAME",
	Example:   `{"EdgeStartTimestamp":"2017-06-22T00:41:00.123Z","ClientIP":"203.0.113.9","ClientRequestMethod":"GET","ClientRequestHost":"www.example.jp","ClientRequestURI":"/mypage/profile","EdgeResponseStatus":200,"CacheCacheStatus":"hit","EdgeColoCode":"NRT","Cookies":{"sid":"abc"}}`,
	CacheHint: "add CacheCacheStatus to the Logpush job's fields",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewCloudflare(id)
	},
}
