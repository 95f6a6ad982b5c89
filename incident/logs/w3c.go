package logs

import (
	"bytes"
	"fmt"
	"math/bits"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// w3c parses W3C extended log files — IIS's default format, and any log
// with a "#Fields:" header: space-separated fields in the order of the
// latest #Fields line, times in UTC. Built from the W3C working draft
// "Extended Log File Format" (WD-logfile) and Microsoft's "W3C Extended Log
// File Format (IIS 6.0)" field table (date time s-sitename s-computername
// s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip
// cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus
// sc-win32-status sc-bytes cs-bytes time-taken); IIS writes a space inside
// a value as '+'. Custom fields (x-NAME, and IIS's enhanced logging
// fields) are fields like any other.
//
// IIS logs no cache result: the cache result is read only from the field
// named by fields.cache, and without one the parser reports
// Capabilities{Cache: false}. The pop is fields.pop (default s-computername
// when logged). The identity is cookie:NAME (from cs(Cookie)), field:NAME
// (any field of the header, cs-username included) or none.
type w3c struct {
	vocab     *Vocab
	id        Identity
	cookie    []byte
	cacheName string // fields.cache, "" when not given
	popName   string // fields.pop
	fields    int    // fields the #Fields header names; 0 before one
	roles     []uint16
	has       uint16
}

// What Parse reads from a field; a field can serve several.
const (
	w3Date = iota
	w3Time
	w3IP
	w3Method
	w3Stem
	w3URI
	w3Query
	w3Status
	w3Host
	w3HostHeader
	w3Cache
	w3Pop
	w3Cookie
	w3Ident
	w3Roles
)

// NewW3C returns the parser for W3C extended logs; fields are the case
// file's logs[].fields (cache, pop).
func NewW3C(fields map[string]string, id Identity) (HeaderParser, error) {
	p := &w3c{vocab: w3cVocab, id: id}
	for _, k := range sortedKeys(fields) {
		v := strings.TrimSpace(fields[k])
		switch k {
		case "cache":
			p.cacheName = v
		case "pop":
			p.popName = v
		default:
			return nil, &fieldError{key: "fields." + k, msg: fmt.Sprintf("unknown field %q; expected one of: cache, pop", k)}
		}
	}
	switch id.Kind {
	case "", "field":
	case "cookie":
		p.cookie = []byte(id.Name)
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user: name W3C's cs-username field as identity field:cs-username")
	default:
		return nil, fmt.Errorf("identity %q: want cookie:NAME or field:NAME", id.Kind)
	}
	return p, nil
}

// Capabilities: the cache result only through fields.cache.
func (p *w3c) Capabilities() Capabilities {
	return Capabilities{Cache: p.cacheName != "", Identity: p.id.Kind != ""}
}

func (p *w3c) setVocab(v *Vocab) { p.vocab = v }

// Header implements HeaderParser: a #Fields line gives the field order of
// the lines after it; #Software, #Version, #Date and other comment lines
// change nothing.
func (p *w3c) Header(line []byte) (Parser, error) {
	line = bytes.TrimRight(line, "\r\n")
	const prefix = "#Fields:"
	if len(line) >= len(prefix) && strings.EqualFold(string(line[:len(prefix)]), prefix) {
		return p.withFields(strings.Fields(string(line[len(prefix):])))
	}
	if len(line) > 0 && line[0] == '#' {
		return p, nil
	}
	return nil, fmt.Errorf("not a header line (does not start with '#')")
}

// withFields returns p reading the fields names, in that order.
func (p *w3c) withFields(names []string) (*w3c, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("the #Fields header names no fields")
	}
	np := *p
	np.fields, np.roles, np.has = len(names), make([]uint16, len(names)), 0
	pop := p.popName
	if pop == "" {
		pop = "s-computername"
	}
	for i, n := range names {
		var r uint16
		set := func(role int, ok bool) {
			if ok && np.has&(1<<role) == 0 {
				r |= 1 << role
			}
		}
		set(w3Date, n == "date")
		set(w3Time, n == "time")
		set(w3IP, n == "c-ip")
		set(w3Method, n == "cs-method")
		set(w3Stem, n == "cs-uri-stem")
		set(w3URI, n == "cs-uri")
		set(w3Query, n == "cs-uri-query")
		set(w3Status, n == "sc-status")
		set(w3Host, n == "cs-host")
		set(w3HostHeader, strings.EqualFold(n, "cs(Host)"))
		set(w3Cache, n == p.cacheName)
		set(w3Pop, n == pop)
		set(w3Cookie, strings.EqualFold(n, "cs(Cookie)"))
		set(w3Ident, p.id.Kind == "field" && n == p.id.Name)
		np.roles[i] = r
		np.has |= r
	}
	var missing []string
	need := func(role int, what string) {
		if np.has&(1<<role) == 0 {
			missing = append(missing, what)
		}
	}
	need(w3Date, "date")
	need(w3Time, "time")
	need(w3Status, "sc-status")
	if np.has&(1<<w3Stem|1<<w3URI) == 0 {
		missing = append(missing, "cs-uri-stem")
	}
	if p.cacheName != "" {
		need(w3Cache, p.cacheName+" (fields.cache)")
	}
	if p.popName != "" {
		need(w3Pop, p.popName+" (fields.pop)")
	}
	switch p.id.Kind {
	case "cookie":
		need(w3Cookie, "cs(Cookie) (identity cookie:"+p.id.Name+")")
	case "field":
		need(w3Ident, p.id.Name+" (identity field:"+p.id.Name+")")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the #Fields header has no %s field", strings.Join(missing, ", no "))
	}
	return &np, nil
}

// Parse implements Parser.
func (p *w3c) Parse(line []byte, rec *Record) error {
	for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == '\n') {
		line = line[:len(line)-1]
	}
	if len(line) > 0 && line[0] == '#' {
		return errHeader
	}
	if p.fields == 0 {
		return reject("no #Fields header before this line: a W3C log names its fields in a #Fields: line")
	}
	var f [w3Roles][]byte
	rest := line
	n := 0
	for len(rest) > 0 || n == 0 {
		var v []byte
		if i := bytes.IndexByte(rest, ' '); i >= 0 {
			v, rest = rest[:i], rest[i+1:]
			if len(rest) == 0 {
				n++ // a trailing space: one more, empty field
			}
		} else {
			v, rest = rest, nil
		}
		if n < p.fields {
			for r := p.roles[n]; r != 0; r &= r - 1 {
				f[bits.TrailingZeros16(r)] = v
			}
		}
		n++
	}
	if n != p.fields {
		return reject(fmt.Sprintf("has %d fields, the #Fields header names %d (a value with a space in it?)", n, p.fields))
	}

	var ok bool
	if rec.Time, rec.Coarse, ok = parseW3CTime(f[w3Date], f[w3Time]); !ok {
		return reject(fmt.Sprintf("date %q time %q is not a valid date and time", clipShort(f[w3Date]), clipShort(f[w3Time])))
	}
	st, ok := digits(f[w3Status])
	if !ok || len(f[w3Status]) != 3 {
		return reject(fmt.Sprintf("sc-status %q is not a status number", clip(f[w3Status])))
	}
	rec.Status = st

	rec.Host = dash(f[w3Host])
	if rec.Host == nil {
		rec.Host = dash(f[w3HostHeader])
	}
	target := f[w3Stem]
	if p.has&(1<<w3Stem) == 0 {
		target = f[w3URI]
	}
	if err := splitTarget(target, rec); err != nil {
		return err
	}
	if q := f[w3Query]; !anonymous(q) {
		rec.Query = q
	}
	if p.has&(1<<w3IP) != 0 {
		var err error
		if rec.ClientIP, err = clientAddr("c-ip", f[w3IP]); err != nil {
			return err
		}
	}
	rec.Method = dash(f[w3Method])
	rec.Pop = dash(f[w3Pop])
	if p.cacheName != "" {
		rec.CacheRaw = f[w3Cache]
		rec.Cache = p.vocab.Classify(rec.CacheRaw)
	} else {
		rec.Cache = CacheOrigin // accepted as missing: a web server's own log
	}

	var id []byte
	switch p.id.Kind {
	case "cookie":
		if h := f[w3Cookie]; !anonymous(h) {
			id = CookieValue(iisCookie(h), p.cookie)
		}
	case "field":
		id = f[w3Ident]
	}
	if !anonymous(id) {
		rec.Identity = id
	}
	return nil
}

// iisCookie undoes IIS's '+' for a space where it separates cookies
// ("a=1;+sid=x"), in place; a '+' inside a value is kept.
func iisCookie(h []byte) []byte {
	for i := 0; i+1 < len(h); i++ {
		if h[i] == ';' && h[i+1] == '+' {
			h[i+1] = ' '
		}
	}
	return h
}

// parseW3CTime parses a W3C date ("2017-06-22") and time ("00:41:00",
// optionally with a fraction, "00:41:00.123"), in UTC.
func parseW3CTime(date, clock []byte) (ns int64, coarse bool, ok bool) {
	if len(clock) <= 8 {
		ns, ok = ParseDateTime(date, clock)
		return ns, true, ok
	}
	if clock[8] != '.' || len(clock) == 9 || len(clock) > 18 {
		return 0, false, false
	}
	if ns, ok = ParseDateTime(date, clock[:8]); !ok {
		return 0, false, false
	}
	scale := int64(1e8)
	for _, c := range clock[9:] {
		if c < '0' || c > '9' {
			return 0, false, false
		}
		ns += int64(c-'0') * scale
		scale /= 10
	}
	return ns, false, true
}

// w3cVocab holds the common wordings (nginx's, CloudFront's, Squid's
// TCP_ codes) for the field fields.cache names; cache_values adds the
// log's own.
var w3cVocab = NewVocab(
	[]string{"MISS", "EXPIRED", "TCP_MISS", "TCP_REFRESH_MISS"},
	[]string{"HIT", "STALE", "UPDATING", "REVALIDATED", "RefreshHit", "TCP_HIT", "TCP_MEM_HIT", "TCP_REFRESH_HIT"},
	[]string{"BYPASS", "DYNAMIC", "PASS"},
)

var w3cFormat = &Format{
	Name:    "w3c",
	Title:   "W3C extended logs: IIS and any log with a #Fields: header (field order from each file's #Fields line)",
	Vocab:   w3cVocab,
	Options: []string{OptFields},
	Config: "nothing to paste: the #Fields header says the order; log date, time, c-ip, cs-method, cs-uri-stem, cs-uri-query, sc-status, cs-host, " +
		"and cs(Cookie) for identity cookie:NAME (or name any field: field:cs-username); IIS logs no cache result — fields: {cache: FIELD} names " +
		"the field holding one (e.g. an x- custom field), fields: {pop: FIELD} the edge (default s-computername)",
	Example:   "2017-06-22 00:41:00 W3SVC1 WEB01 10.0.0.5 GET /mypage/profile tab=1 443 - 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) sid=abc;+lang=ja - www.example.jp 200 0 0 5380 512 15",
	CacheHint: "IIS logs no cache result: ingest the logs of the CDN or cache in front of it, or log the cache result in a custom field and name it in fields.cache",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewW3C(src.Fields, id)
	},
}
