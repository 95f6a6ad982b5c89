package logs

import (
	"fmt"

	"github.com/breachctl/breachctl/incident"
)

// gcp reads Google Cloud Logging entries of the external Application Load
// Balancer and Cloud CDN (resource http_load_balancer): one LogEntry per
// line, or the JSON array (pretty-printed) that gcloud logging read
// --format=json and the console's download write (the reader frames those
// by record).
//
// Followed: Cloud Logging's LogEntry and HttpRequest reference
// (timestamp; httpRequest.requestMethod, requestUrl (a full URL), status,
// remoteIp, cacheLookup, cacheHit, cacheValidatedWithOriginServer,
// cacheFillBytes) and Cloud CDN's "Logging and metrics" page (jsonPayload
// cacheId, e.g. "SFO-fbae48ad"; statusDetails). Booleans that are false are
// left out of an entry, as protobuf JSON does.
//
// The cache result is composed from the booleans, as a wording CacheRaw
// shows and cache_values can remap: "hit" (cacheHit), "validated" (a hit
// revalidated with the origin), "miss" (cacheLookup without a hit: fetched,
// may be stored; "fill" when cacheFillBytes says it was) and "nolookup" (no
// cache lookup: a backend without Cloud CDN, or an uncacheable request).
type gcp struct {
	vocab                                                              *Vocab
	q                                                                  jsonQuery
	ts, method, url, status, ip, lookup, hit, validated, fill, cacheID int
	ident                                                              jsonField
	idKey                                                              string
}

// NewGCP returns the parser for Cloud Logging load balancer entries.
// Identity is field:NAME (a key of the entry, a dotted path such as
// jsonPayload.user or labels.user); the load balancer logs no cookies.
func NewGCP(id Identity) (Parser, error) {
	p := &gcp{vocab: gcpVocab, ident: noField}
	for _, k := range []struct {
		slot *int
		path []string
	}{
		{&p.ts, []string{"timestamp"}},
		{&p.method, []string{"httpRequest", "requestMethod"}},
		{&p.url, []string{"httpRequest", "requestUrl"}},
		{&p.status, []string{"httpRequest", "status"}},
		{&p.ip, []string{"httpRequest", "remoteIp"}},
		{&p.lookup, []string{"httpRequest", "cacheLookup"}},
		{&p.hit, []string{"httpRequest", "cacheHit"}},
		{&p.validated, []string{"httpRequest", "cacheValidatedWithOriginServer"}},
		{&p.fill, []string{"httpRequest", "cacheFillBytes"}},
		{&p.cacheID, []string{"jsonPayload", "cacheId"}},
	} {
		s, err := p.q.add(k.path...)
		if err != nil {
			return nil, err
		}
		*k.slot = s
	}
	switch id.Kind {
	case "field":
		f, err := p.q.addField(id.Name)
		if err != nil {
			return nil, fmt.Errorf("identity field:%s: %w", id.Name, err)
		}
		p.ident, p.idKey = f, id.Name
	case "":
	case "cookie":
		return nil, fmt.Errorf("identity cookie:%s: Google Cloud load balancer logs record no cookies; use field:NAME for a key your entries carry", id.Name)
	default:
		return nil, fmt.Errorf("identity %q does not exist in Google Cloud logs; use field:NAME", id.Kind)
	}
	if p.q.nslots > 16 {
		return nil, fmt.Errorf("identity %s:%s: too many JSON values to read", id.Kind, id.Name)
	}
	return p, nil
}

func (p *gcp) jsonRecords() {}

func (p *gcp) setVocab(v *Vocab) { p.vocab = v }

// The composed wordings.
var (
	gcpHit       = []byte("hit")
	gcpValidated = []byte("validated")
	gcpMiss      = []byte("miss")
	gcpFill      = []byte("fill")
	gcpNoLookup  = []byte("nolookup")
)

// Parse implements Parser.
func (p *gcp) Parse(line []byte, rec *Record) error {
	var vals [16]jsonValue
	if e, ok := p.q.scan(line, vals[:]); !ok {
		return reject(e.reason())
	}
	var err error
	v := &vals[p.ts]
	if !v.present() {
		return reject("timestamp missing")
	}
	if rec.Time, rec.Coarse, err = jsonTime("timestamp", v); err != nil {
		return err
	}
	if v = &vals[p.status]; !v.present() {
		return reject("httpRequest.status missing (not a load balancer request entry?)")
	}
	if rec.Status, err = jsonStatus("httpRequest.status", v); err != nil {
		return err
	}
	if v = &vals[p.url]; !v.present() {
		return reject("httpRequest.requestUrl missing")
	}
	u, err := jsonText("httpRequest.requestUrl", v)
	if err != nil {
		return err
	}
	if err := splitTarget(u, rec); err != nil {
		return err
	}
	if rec.Method, err = jsonText("httpRequest.requestMethod", &vals[p.method]); err != nil {
		return err
	}
	if v = &vals[p.ip]; v.present() {
		ip, err := jsonText("httpRequest.remoteIp", v)
		if err != nil {
			return err
		}
		if rec.ClientIP, err = clientAddr("httpRequest.remoteIp", ip); err != nil {
			return err
		}
	}
	if rec.Pop, err = jsonScalar("jsonPayload.cacheId", &vals[p.cacheID]); err != nil {
		return err
	}

	lookup, err := jsonBoolValue("httpRequest.cacheLookup", &vals[p.lookup])
	if err != nil {
		return err
	}
	hit, err := jsonBoolValue("httpRequest.cacheHit", &vals[p.hit])
	if err != nil {
		return err
	}
	validated, err := jsonBoolValue("httpRequest.cacheValidatedWithOriginServer", &vals[p.validated])
	if err != nil {
		return err
	}
	switch {
	case validated:
		rec.CacheRaw = gcpValidated
	case hit:
		rec.CacheRaw = gcpHit
	case lookup && vals[p.fill].present():
		rec.CacheRaw = gcpFill
	case lookup:
		rec.CacheRaw = gcpMiss
	default:
		rec.CacheRaw = gcpNoLookup
	}
	rec.Cache = p.vocab.Classify(rec.CacheRaw)

	if v = p.ident.get(vals[:]); v != nil {
		id, err := jsonScalar(p.idKey, v)
		if err != nil {
			return err
		}
		if !anonymous(id) {
			rec.Identity = id
		}
	}
	return nil
}

var gcpVocab = NewVocab(
	[]string{"miss", "fill"},
	[]string{"hit", "validated"},
	[]string{"nolookup"},
)

var gcpFormat = &Format{
	Name:  "gcp",
	Title: "Google Cloud Logging entries of the Application Load Balancer / Cloud CDN (httpRequest; one per line, or a JSON array export)",
	Vocab: gcpVocab,
	Config: "enable logging on the backend service (logConfig.enable, sampleRate 1.0) and export the entries (a sink to Cloud Storage, or gcloud logging read --format=json); " +
		"the cache result is composed from httpRequest.cacheLookup, cacheHit and cacheValidatedWithOriginServer; identity field:NAME only (the load balancer logs no cookies)",
	Example:   `{"insertId":"1oek5rg3l3fxj7","jsonPayload":{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry","cacheId":"NRT-4e2a19c3","statusDetails":"response_from_cache"},"httpRequest":{"requestMethod":"GET","requestUrl":"https://www.example.jp/mypage/profile?tab=1","status":200,"remoteIp":"203.0.113.9","cacheLookup":true,"cacheHit":true},"timestamp":"2017-06-22T00:41:00.123456Z"}`,
	CacheHint: "enable Cloud CDN on the backend: entries without httpRequest.cacheLookup read as nolookup (never cached)",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewGCP(id)
	},
}
