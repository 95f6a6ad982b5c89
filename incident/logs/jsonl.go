package logs

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
)

// The record parts a jsonl case file maps to JSON keys (logs[].fields).
const (
	jlTime = iota
	jlIP
	jlMethod
	jlHost
	jlPath
	jlQuery
	jlStatus
	jlCache
	jlPop
	jlURL     // a full URL or a path: split into host, path and query
	jlRequest // "GET /p?q HTTP/1.1": split into method, path and query
	jlDate    // a date apart from the time (fields.time is then the clock)
	jlParts
)

var jsonlParts = [jlParts]string{"time", "ip", "method", "host", "path", "query", "status", "cache", "pop", "url", "request", "date"}

// Option keys of the jsonl format (and of formats built on it).
const (
	OptTimeFormat = "time_format"
	OptTimeZone   = "time_zone"
)

// jsonl parses JSON lines whose keys the case file names (the generic
// jsonl format), or whose keys a preset fixes (fastly, caddy, traefik).
type jsonl struct {
	vocab *Vocab
	q     jsonQuery
	f     [jlParts]jsonField
	names [jlParts]string // "KEY (part)", for reject reasons
	// alt holds a preset's further keys for a part, tried in order when
	// f's is absent (Caddy's client_ip, then remote_ip).
	alt [jlParts][]altField
	tf  timeSpec
	// A preset whose servers log the cache result only when a cache is
	// configured: a line without one reads the wording "" (unknown unless
	// the vocabulary or cache_values say otherwise).
	optionalCache bool
	// word, when set, reduces a logged cache value to the wording
	// classified and kept as CacheRaw (an RFC 9211 Cache-Status header).
	word func([]byte) []byte
	// Identity: field:NAME reads ident. cookie:NAME reads the first present
	// of sources: a Cookie header string (or an array of them), or an
	// object whose key NAME (in inner) holds the value.
	byCookie bool
	cookie   []byte
	ident    jsonField
	idKey    string
	sources  []cookieSource
}

type altField struct {
	f    jsonField
	name string
}

type cookieSource struct {
	whole jsonField
	inner int // slot of the source's key NAME when it is an object
	name  string
}

// jsonlConfig is what a jsonl parser is built from: the case file's
// fields for the generic format, or a preset's fixed keys.
type jsonlConfig struct {
	keys     [jlParts][]string // JSON keys of each part; the first present wins
	identKey string            // fields.identity
	cookies  []string          // Cookie header keys for cookie:NAME
	vocab    *Vocab
	tf       timeSpec
	optCache bool
	word     func([]byte) []byte
}

// NewJSONL returns the parser for JSON lines with the keys named in fields
// (the case file's logs[].fields), its times read by auto-detection.
func NewJSONL(fields map[string]string, id Identity) (Parser, error) {
	return newJSONLSource(incident.LogSource{Fields: fields}, id)
}

// newJSONLSource builds the generic jsonl parser of a logs[] entry: time,
// status, cache and one of path, url or request are required; ip, method,
// host, query, pop, date and identity are optional. A key may be a dotted
// path into nested objects ("http.status"); a top-level key spelled with
// the dots is tried second. Identity is field:NAME (or the key in
// fields.identity) or cookie:NAME, read from fields.identity when given,
// else from the first of the top-level keys cookie, Cookie or cookies: a
// Cookie header string, or an object with the key NAME. time_format and
// time_zone say how times are written (see parseTimeSpec).
func newJSONLSource(src incident.LogSource, id Identity) (Parser, error) {
	cfg := jsonlConfig{vocab: jsonlVocab, identKey: strings.TrimSpace(src.Fields["identity"]), cookies: []string{"cookie", "Cookie", "cookies"}}
	keys := make([]string, 0, len(src.Fields))
	for k := range src.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "identity" {
			continue
		}
		i := indexOf(jsonlParts[:], k)
		if i < 0 {
			return nil, &fieldError{key: "fields." + k, msg: fmt.Sprintf("unknown record part; expected one of %s, identity", strings.Join(jsonlParts[:], ", "))}
		}
		if name := strings.TrimSpace(src.Fields[k]); name != "" {
			cfg.keys[i] = []string{name}
		}
	}
	var missing fieldErrors
	for _, req := range []int{jlTime, jlPath, jlStatus, jlCache} {
		switch {
		case cfg.keys[req] != nil:
		case req == jlPath && (cfg.keys[jlURL] != nil || cfg.keys[jlRequest] != nil):
		case req == jlPath:
			missing = append(missing, &fieldError{key: "fields.path",
				msg: "required for jsonl: the name of the JSON field holding the path (or fields.url for a full URL, or fields.request for \"GET /path HTTP/1.1\")"})
		default:
			missing = append(missing, &fieldError{key: "fields." + jsonlParts[req],
				msg: fmt.Sprintf("required for jsonl: the name of the JSON field holding the %s", jsonlParts[req])})
		}
	}
	if len(missing) > 0 {
		return nil, missing
	}
	var err error
	if cfg.tf, err = parseTimeSpec(src.TimeFormat, src.TimeZone, cfg.keys[jlDate] != nil); err != nil {
		return nil, err
	}
	return newJSONL(cfg, id)
}

func newJSONL(cfg jsonlConfig, id Identity) (*jsonl, error) {
	p := &jsonl{vocab: cfg.vocab, ident: noField, tf: cfg.tf, optionalCache: cfg.optCache, word: cfg.word}
	for i := range p.f {
		p.f[i] = noField
		for j, name := range cfg.keys[i] {
			f, err := p.q.addField(name)
			if err != nil {
				return nil, &fieldError{key: "fields." + jsonlParts[i], msg: err.Error()}
			}
			label := name + " (" + jsonlParts[i] + ")"
			if j == 0 {
				p.f[i], p.names[i] = f, label
			} else {
				p.alt[i] = append(p.alt[i], altField{f: f, name: label})
			}
		}
	}
	identKey := cfg.identKey
	switch id.Kind {
	case "field":
		if identKey != "" && identKey != id.Name {
			return nil, fmt.Errorf("identity field:%s and fields.identity %q name different keys; keep one", id.Name, identKey)
		}
		identKey = id.Name
	case "cookie":
		p.byCookie, p.cookie, p.idKey = true, []byte(id.Name), id.Name+" cookie"
		srcs := cfg.cookies
		if identKey != "" {
			srcs = []string{identKey}
		}
		if len(srcs) == 0 {
			return nil, fmt.Errorf("identity cookie:%s: these logs record no cookies; use field:NAME", id.Name)
		}
		for _, s := range srcs {
			whole, err := p.q.addField(s)
			if err != nil {
				return nil, fmt.Errorf("identity cookie:%s: %w", id.Name, err)
			}
			inner, err := p.q.add(append(strings.Split(s, "."), id.Name)...)
			if err != nil {
				return nil, fmt.Errorf("identity cookie:%s: %w", id.Name, err)
			}
			p.sources = append(p.sources, cookieSource{whole: whole, inner: inner, name: s})
		}
		identKey = ""
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user does not exist in JSON lines; use cookie:NAME or field:NAME")
	case "": // none: every request is anonymous unless fields.identity names one
	default:
		return nil, fmt.Errorf("identity %q: want cookie:NAME or field:NAME", id.Kind)
	}
	if identKey != "" {
		f, err := p.q.addField(identKey)
		if err != nil {
			return nil, fmt.Errorf("identity field:%s: %w", identKey, err)
		}
		p.ident, p.idKey = f, identKey+" (identity)"
	}
	return p, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// jsonRecords marks a parser of JSON records: the reader frames a file
// of them by JSON values when it is an array or pretty-printed.
func (p *jsonl) jsonRecords() {}

// Parse implements Parser.
func (p *jsonl) Parse(line []byte, rec *Record) error {
	// Clearing the values is part of the cost per line: use the smaller
	// array when it is enough.
	if p.q.nslots <= 16 {
		var vals [16]jsonValue
		return p.parse(line, rec, vals[:])
	}
	var vals [maxJSONSlots]jsonValue
	return p.parse(line, rec, vals[:])
}

// value returns a part's value and its name for reject reasons: the first
// present of its keys (nil when the part is not configured).
func (p *jsonl) value(part int, vals []jsonValue) (*jsonValue, string) {
	v := p.f[part].get(vals)
	if (v != nil && v.present()) || p.alt[part] == nil {
		return v, p.names[part]
	}
	for _, a := range p.alt[part] {
		if w := a.f.get(vals); w.present() {
			return w, a.name
		}
	}
	return v, p.names[part]
}

func (p *jsonl) parse(line []byte, rec *Record, vals []jsonValue) error {
	if e, ok := p.q.scan(line, vals); !ok {
		return reject(e.reason())
	}
	var err error

	v, name := p.value(jlTime, vals)
	if !v.present() {
		return p.missing(jlTime)
	}
	if p.f[jlDate].nested >= 0 {
		d, dname := p.value(jlDate, vals)
		if !d.present() {
			return p.missing(jlDate)
		}
		rec.Time, rec.Coarse, err = p.tf.dateTime(dname, d, name, v)
	} else {
		rec.Time, rec.Coarse, err = p.tf.parse(name, v)
	}
	if err != nil {
		return err
	}

	if v, name = p.value(jlStatus, vals); !v.present() {
		return p.missing(jlStatus)
	}
	if rec.Status, err = jsonStatus(name, v); err != nil {
		return err
	}

	if v, name = p.value(jlCache, vals); v.present() {
		if rec.CacheRaw, err = jsonWord(name, v); err != nil {
			return err
		}
	} else if p.optionalCache {
		rec.CacheRaw = noWording
	} else {
		return p.missing(jlCache)
	}
	if p.word != nil {
		rec.CacheRaw = p.word(rec.CacheRaw)
	}
	rec.Cache = p.vocab.Classify(rec.CacheRaw)

	var target []byte
	if v, name = p.value(jlPath, vals); v != nil && v.present() {
		if target, err = jsonText(name, v); err != nil {
			return err
		}
	} else if v, name = p.value(jlURL, vals); v != nil && v.present() {
		if target, err = jsonText(name, v); err != nil {
			return err
		}
	} else if v, name = p.value(jlRequest, vals); v != nil && v.present() {
		if target, err = jsonText(name, v); err != nil {
			return err
		}
		if err := splitRequest(target, rec); err != nil { // nginx's: method, then the target
			return err
		}
		target = nil
	} else {
		return p.missingTarget()
	}
	if target != nil {
		if err := splitTarget(target, rec); err != nil {
			return err
		}
	}
	if v, name = p.value(jlQuery, vals); v != nil && v.present() {
		if rec.Query, err = jsonText(name, v); err != nil {
			return err
		}
		if len(rec.Query) > 0 && rec.Query[0] == '?' {
			rec.Query = rec.Query[1:]
		}
	}

	if v, name = p.value(jlIP, vals); v != nil && v.present() { // absent or null: this line has none
		ip, err := jsonText(name, v)
		if err != nil {
			return err
		}
		if rec.ClientIP, err = clientAddr(name, ip); err != nil {
			return err
		}
	}
	if v, name = p.value(jlMethod, vals); v != nil && v.present() {
		if rec.Method, err = jsonText(name, v); err != nil {
			return err
		}
	}
	if v, name = p.value(jlHost, vals); v != nil && v.present() { // absent: the URL's host, if any
		if rec.Host, err = jsonText(name, v); err != nil {
			return err
		}
	}
	if v, name = p.value(jlPop, vals); v != nil {
		if rec.Pop, err = jsonScalar(name, v); err != nil {
			return err
		}
	}

	var id []byte
	if p.byCookie {
		for i := range p.sources {
			s := &p.sources[i]
			v = s.whole.get(vals)
			if !v.present() {
				continue
			}
			switch v.kind {
			case jsonString, jsonArray:
				var h []byte
				if h, err = jsonHeader(s.name, v); err == nil {
					id = CookieValue(h, p.cookie)
				}
			case jsonObject:
				id, err = jsonScalar(p.idKey, &vals[s.inner])
			default:
				err = wrongType(s.name, v, "a Cookie header string or an object")
			}
			break
		}
	} else if v = p.ident.get(vals); v != nil {
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

// noWording is the cache result of a line that logs none.
var noWording = []byte{}

func (p *jsonl) missing(part int) error {
	return reject(p.names[part] + " missing")
}

func (p *jsonl) missingTarget() error {
	var names []string
	for _, part := range []int{jlPath, jlURL, jlRequest} {
		if p.names[part] != "" {
			names = append(names, p.names[part])
		}
	}
	return reject(strings.Join(names, ", ") + " missing")
}

func (p *jsonl) setVocab(v *Vocab) { p.vocab = v }

// A timeSpec says how a jsonl time is written (logs[].time_format).
type timeSpec struct {
	kind   int
	layout string         // tfLayout: a Go layout
	loc    *time.Location // tfLayout: the zone of a layout without one
	fine   bool           // tfLayout: the layout has fractional seconds
}

const (
	tfAuto    = iota // RFC 3339, nginx $time_local, or Unix by its digits
	tfRFC3339        // RFC 3339 only
	tfUnixS          // Unix seconds (a fraction allowed)
	tfUnixMS
	tfUnixUS
	tfUnixNS
	tfLayout // a Go reference-time layout
	// tfAutoUTC is tfAuto that also reads an RFC 3339 time without a zone
	// as UTC (Fastly's %{begin:%Y-%m-%dT%H:%M:%S}t is in UTC).
	tfAutoUTC
)

var timeFormats = map[string]int{"": tfAuto, "auto": tfAuto, "rfc3339": tfRFC3339, "unix_s": tfUnixS, "unix_ms": tfUnixMS, "unix_us": tfUnixUS, "unix_ns": tfUnixNS}

// parseTimeSpec reads logs[].time_format: auto (the default: RFC 3339,
// nginx's $time_local, or a Unix time whose unit its digits give),
// rfc3339, unix_s, unix_ms, unix_us, unix_ns, or a Go layout written with
// Go's reference time ("2006-01-02 15:04:05.000"). time_zone (an IANA name,
// default UTC) is the zone of a layout without one. With fields.date the
// date and time fields are read together, "DATE TIME", by the layout
// (default "2006-01-02 15:04:05").
func parseTimeSpec(format, zone string, withDate bool) (timeSpec, error) {
	format = strings.TrimSpace(format)
	if k, ok := timeFormats[strings.ToLower(format)]; ok {
		if withDate {
			if k != tfAuto {
				return timeSpec{}, &fieldError{key: "time_format", msg: fmt.Sprintf("%s cannot read a date and a time apart (fields.date); give the layout of \"DATE TIME\", e.g. \"2006-01-02 15:04:05\"", format)}
			}
			format = "2006-01-02 15:04:05"
		} else {
			if zone != "" {
				return timeSpec{}, &fieldError{key: "time_zone", msg: "only a time_format layout without a zone, or fields.date, takes a time_zone: " +
					"RFC 3339 and Unix times say their own"}
			}
			return timeSpec{kind: k}, nil
		}
	}
	if !strings.Contains(format, "2006") && !strings.Contains(format, "06") || !strings.Contains(format, "15") && !strings.Contains(format, "03") && !strings.Contains(format, "3") {
		return timeSpec{}, &fieldError{key: "time_format", msg: fmt.Sprintf("%q is not a time format: use rfc3339, unix_s, unix_ms, unix_us, unix_ns, or a Go layout of the reference time Mon Jan 2 15:04:05 MST 2006 (e.g. \"2006-01-02 15:04:05.000\")", format)}
	}
	ts := timeSpec{kind: tfLayout, layout: format, loc: time.UTC}
	for _, f := range []string{".0", ".9", ",0", ",9"} {
		ts.fine = ts.fine || strings.Contains(format, f)
	}
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return timeSpec{}, &fieldError{key: "time_zone", msg: fmt.Sprintf("%q is not a time zone: use an IANA name such as Asia/Tokyo or UTC", zone)}
		}
		ts.loc = loc
	}
	return ts, nil
}

// parse reads a time value as the spec says.
func (ts *timeSpec) parse(name string, v *jsonValue) (int64, bool, error) {
	switch ts.kind {
	case tfAuto:
		return jsonTime(name, v)
	case tfAutoUTC:
		if v.kind == jsonString {
			var buf [40]byte
			if s := v.text(); len(s) >= 19 && len(s) < len(buf) {
				n := copy(buf[:], s)
				buf[n] = 'Z'
				if ns, coarse, ok := ParseRFC3339(buf[:n+1]); ok {
					return ns, coarse, nil
				}
			}
		}
		return jsonTime(name, v)
	case tfRFC3339:
		if v.kind != jsonString {
			return 0, false, wrongType(name, v, "an RFC 3339 string")
		}
		s := v.text()
		if ns, coarse, ok := ParseRFC3339(s); ok {
			return ns, coarse, nil
		}
		return 0, false, reject(fmt.Sprintf("%s %q is not an RFC 3339 time", name, clip(s)))
	case tfLayout:
		if v.kind != jsonString {
			return 0, false, wrongType(name, v, "a string")
		}
		s := v.text()
		t, err := time.ParseInLocation(ts.layout, string(s), ts.loc)
		if err != nil {
			return 0, false, reject(fmt.Sprintf("%s %q does not match time_format %q", name, clip(s), ts.layout))
		}
		return t.UnixNano(), !ts.fine, nil
	}
	var s []byte
	switch v.kind {
	case jsonNumber:
		s = v.raw
	case jsonString:
		s = v.text()
	default:
		return 0, false, wrongType(name, v, "a number")
	}
	if ns, coarse, ok := parseUnixUnit(s, ts.kind); ok {
		return ns, coarse, nil
	}
	return 0, false, reject(fmt.Sprintf("%s %q is not a Unix time in %s", name, clip(s), unitNames[ts.kind-tfUnixS]))
}

var unitNames = [...]string{"seconds", "milliseconds", "microseconds", "nanoseconds"}

// dateTime reads separate date and time values as "DATE TIME".
func (ts *timeSpec) dateTime(dname string, d *jsonValue, tname string, t *jsonValue) (int64, bool, error) {
	if d.kind != jsonString {
		return 0, false, wrongType(dname, d, "a string")
	}
	if t.kind != jsonString {
		return 0, false, wrongType(tname, t, "a string")
	}
	date, clock := d.text(), t.text()
	s := string(date) + " " + string(clock)
	tm, err := time.ParseInLocation(ts.layout, s, ts.loc)
	if err != nil {
		return 0, false, reject(fmt.Sprintf("%s and %s %q do not match time_format %q", dname, tname, clip([]byte(s)), ts.layout))
	}
	return tm.UnixNano(), !ts.fine, nil
}

// parseUnixUnit reads a Unix time in the unit kind says (tfUnixS..NS),
// with an optional fraction of that unit.
func parseUnixUnit(b []byte, kind int) (int64, bool, bool) {
	if kind == tfUnixS {
		return ParseUnixDecimal(b)
	}
	scale := [...]int64{1e6, 1e3, 1}[kind-tfUnixMS]
	i := 0
	var n int64
	for ; i < len(b) && b[i]-'0' <= 9; i++ {
		if n > (1<<63-1)/10/scale {
			return 0, false, false
		}
		n = n*10 + int64(b[i]-'0')
	}
	if i == 0 {
		return 0, false, false
	}
	ns := n * scale
	if i < len(b) {
		if b[i] != '.' || i+1 == len(b) {
			return 0, false, false
		}
		f := scale / 10
		for _, c := range b[i+1:] {
			if c-'0' > 9 {
				return 0, false, false
			}
			ns += int64(c-'0') * f
			f /= 10
		}
	}
	return ns, false, true
}

// jsonlVocab is the generic one: the nginx, CloudFront and Cloudflare
// wordings together. logs[].cache_values adds the log's own (true and
// false included, for a cache field that is a boolean).
var jsonlVocab = NewVocab(
	[]string{"miss", "expired"},
	[]string{"hit", "stale", "updating", "revalidated", "refreshhit"},
	[]string{"bypass", "dynamic", "error", "limitexceeded", "capacityexceeded", "redirect", ""},
)

var jsonlFormat = &Format{
	Name:    "jsonl",
	Title:   "any JSON lines (or a JSON array, or pretty-printed records): fields maps each record part to your keys",
	Vocab:   jsonlVocab,
	Options: []string{OptFields, OptTimeFormat, OptTimeZone},
	Config: "fields: {time, ip, method, host, path, query, status, cache, pop, identity} → your JSON keys (dotted paths reach into objects); " +
		"fields.url for a full URL, fields.request for \"GET /p?q HTTP/1.1\", fields.date for a date apart from the time; " +
		"time_format: rfc3339 | unix_s | unix_ms | unix_us | unix_ns | a Go layout (default: detected), time_zone: for a layout without one (default UTC); " +
		"cache_values: for your cache wordings (true/false for a boolean field); prefix: for a syslog header",
	Example:   `{"ts":"2017-06-22T00:41:00.123Z","ip":"203.0.113.9","uri":"/mypage/profile","status":200,"cache":"HIT","sid":"abc"}`,
	CacheHint: "log the cache result and name its key in fields.cache",
	New:       newJSONLSource,
}
