package logs

import (
	"fmt"
)

// CloudFront standard logging (v2) delivers to CloudWatch Logs, Firehose or
// S3 as JSON, Plain, W3C, Raw or Parquet ("Configure standard logging (v2)"
// in the CloudFront Developer Guide). Its W3C and Plain files are the legacy
// layout (a #Fields header, tab-separated; cloudfront.go). Its JSON output
// is one object per line, keyed by the same field names, values as strings:
//
//	{"date":"2024-11-15","time":"19:45:51","x-edge-location":"SOF50-P2","asn":"16509","timestamp(ms)":"1731699951183",...}
//
// The cloudfront format reads both: a line starting with '{' is JSON (a
// CloudFront W3C line starts with its first field, and CloudFront
// URL-encodes '{' in the fields that could start one). One format name, so
// a case file does not change when a distribution moves from legacy to v2
// logging; a mixed directory works too.

// cloudFrontJSONSlots bounds the values a line is read for: the fields
// below and the identity's (two for a dotted field name).
const cloudFrontJSONSlots = 20

// cloudFrontJSON parses standard logging v2's JSON lines with the
// allocation-free scanner of jsonscan.go.
type cloudFrontJSON struct {
	vocab *Vocab
	q     jsonQuery
	// Slots of the fields read, indexed by role (cfDate ... cfEpoch); -1
	// for cfIdent and cfCookie when the identity does not use them.
	slot     [cfRoles]int
	ident    jsonField
	byCookie bool
	cookie   []byte
	idKey    string // the identity's key, for reject reasons
}

func newCloudFrontJSON(id Identity) (*cloudFrontJSON, error) {
	p := &cloudFrontJSON{vocab: cloudFrontVocab, ident: noField, idKey: id.Name}
	for r := range p.slot {
		p.slot[r] = -1
		if cfRoleField[r] == "" || (r == cfCookie && id.Kind != "cookie") {
			continue
		}
		s, err := p.q.add(cfRoleField[r])
		if err != nil {
			return nil, err
		}
		p.slot[r] = s
	}
	switch id.Kind {
	case "cookie":
		p.byCookie, p.cookie, p.idKey = true, []byte(id.Name), "cs(Cookie)"
	case "field":
		// A CloudFront field name has no dots; a dotted name is also
		// tried as a path into nested objects (jsonField).
		f, err := p.q.addField(id.Name)
		if err != nil {
			return nil, fmt.Errorf("identity field:%s: %w", id.Name, err)
		}
		p.ident = f
	}
	if p.q.nslots > cloudFrontJSONSlots {
		return nil, fmt.Errorf("identity %s:%s: too many JSON values to read", id.Kind, id.Name)
	}
	return p, nil
}

// text returns role r's value as text: a string, or a number as written
// (v2 writes every value as a string; a number is taken too). Absent,
// null, "" and "-" are nil.
func (p *cloudFrontJSON) text(vals []jsonValue, r int) ([]byte, error) {
	if p.slot[r] < 0 {
		return nil, nil
	}
	b, err := jsonScalar(cfRoleField[r], &vals[p.slot[r]])
	if err != nil || anonymous(b) {
		return nil, err
	}
	return b, nil
}

// Parse implements Parser for one JSON line.
func (p *cloudFrontJSON) Parse(line []byte, rec *Record) error {
	var vals [cloudFrontJSONSlots]jsonValue
	if e, ok := p.q.scan(line, vals[:]); !ok {
		return reject(e.reason())
	}
	var f [cfRoles][]byte
	for r := range f {
		var err error
		if f[r], err = p.text(vals[:], r); err != nil {
			return err
		}
	}
	if f[cfEpoch] == nil && (f[cfDate] == nil || f[cfTime] == nil) {
		return reject("date and time missing (and no timestamp(ms))")
	}
	if err := cfReadTime(f[cfEpoch], f[cfDate], f[cfTime], rec); err != nil {
		return err
	}
	if f[cfStatus] == nil {
		return reject("sc-status missing")
	}
	st, ok := digits(f[cfStatus])
	if !ok || len(f[cfStatus]) > 3 {
		return reject(fmt.Sprintf("sc-status %q is not a number", clip(f[cfStatus])))
	}
	rec.Status = st
	if f[cfResult] == nil && f[cfDetailed] == nil && f[cfResponse] == nil {
		return reject("x-edge-result-type missing (and no x-edge-detailed-result-type)")
	}
	rec.CacheRaw, rec.Cache = cfCache(p.vocab, f[cfResult], f[cfDetailed], f[cfResponse])
	if f[cfPath] == nil {
		return reject("cs-uri-stem missing")
	}
	rec.Pop = f[cfPop]
	if f[cfIP] != nil {
		var err error
		if rec.ClientIP, err = clientAddr("c-ip", f[cfIP]); err != nil {
			return err
		}
	}
	rec.Method = f[cfMethod]
	rec.Host = f[cfHostHeader]
	if rec.Host == nil {
		rec.Host = f[cfHost]
	}
	if err := cfTarget(f[cfPath], rec); err != nil {
		return err
	}
	if f[cfQuery] != nil {
		rec.Query = decodeInPlace(f[cfQuery])
	}

	var id []byte
	if p.byCookie {
		if h := f[cfCookie]; h != nil {
			id = CookieValue(decodeInPlace(h), p.cookie)
		}
	} else if v := p.ident.get(vals[:]); v != nil {
		var err error
		if id, err = jsonScalar(p.idKey, v); err != nil {
			return err
		}
	}
	if !anonymous(id) {
		rec.Identity = id
	}
	return nil
}
