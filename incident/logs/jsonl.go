package logs

import (
	"fmt"
	"sort"
	"strings"

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
	jlParts
)

var jsonlParts = [jlParts]string{"time", "ip", "method", "host", "path", "query", "status", "cache", "pop"}

// jsonl parses generic JSON lines whose keys the case file names.
type jsonl struct {
	vocab *Vocab
	q     jsonQuery
	f     [jlParts]jsonField
	names [jlParts]string // "KEY (part)", for reject reasons
	// Identity: field:NAME reads ident. cookie:NAME reads the first present
	// of sources: a Cookie header string, or an object whose key NAME
	// (in inner) holds the value.
	byCookie bool
	cookie   []byte
	ident    jsonField
	idKey    string
	sources  []cookieSource
}

type cookieSource struct {
	whole jsonField
	inner int // slot of the source's key NAME when it is an object
	name  string
}

// NewJSONL returns the parser for JSON lines with the keys named in fields
// (the case file's logs[].fields): time, path, status and cache are
// required; ip, method, host, query, pop and identity are optional. A key
// may be a dotted path into nested objects ("http.status"); a top-level key
// spelled with the dots is tried second. Identity is field:NAME (or the key
// in fields.identity) or cookie:NAME, read from fields.identity when given,
// else from the first of the top-level keys cookie, Cookie or cookies: a
// Cookie header string, or an object with the key NAME.
func NewJSONL(fields map[string]string, id Identity) (Parser, error) {
	p := &jsonl{vocab: jsonlVocab, ident: noField}
	for i := range p.f {
		p.f[i] = noField
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "identity" {
			continue
		}
		i := indexOf(jsonlParts[:], k)
		if i < 0 {
			return nil, fmt.Errorf("fields.%s: unknown record part; expected one of %s, identity", k, strings.Join(jsonlParts[:], ", "))
		}
		name := strings.TrimSpace(fields[k])
		if name == "" {
			continue
		}
		f, err := p.q.addField(name)
		if err != nil {
			return nil, fmt.Errorf("fields.%s: %w", k, err)
		}
		p.f[i] = f
		p.names[i] = name + " (" + k + ")"
	}
	var missing fieldErrors
	for _, req := range []int{jlTime, jlPath, jlStatus, jlCache} {
		if p.f[req].nested < 0 {
			missing = append(missing, &fieldError{key: "fields." + jsonlParts[req],
				msg: fmt.Sprintf("required for jsonl: the name of the JSON field holding the %s", jsonlParts[req])})
		}
	}
	if len(missing) > 0 {
		return nil, missing
	}

	identKey := strings.TrimSpace(fields["identity"])
	switch id.Kind {
	case "field":
		if identKey != "" && identKey != id.Name {
			return nil, fmt.Errorf("identity field:%s and fields.identity %q name different keys; keep one", id.Name, identKey)
		}
		identKey = id.Name
	case "cookie":
		p.byCookie, p.cookie, p.idKey = true, []byte(id.Name), id.Name+" cookie"
		srcs := []string{"cookie", "Cookie", "cookies"}
		if identKey != "" {
			srcs = []string{identKey}
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

func (p *jsonl) parse(line []byte, rec *Record, vals []jsonValue) error {
	if e, ok := p.q.scan(line, vals); !ok {
		return reject(e.reason())
	}
	var err error

	v := p.f[jlTime].get(vals)
	if !v.present() {
		return p.missing(jlTime)
	}
	if rec.Time, rec.Coarse, err = jsonTime(p.names[jlTime], v); err != nil {
		return err
	}

	if v = p.f[jlStatus].get(vals); !v.present() {
		return p.missing(jlStatus)
	}
	if rec.Status, err = jsonStatus(p.names[jlStatus], v); err != nil {
		return err
	}

	if v = p.f[jlCache].get(vals); !v.present() {
		return p.missing(jlCache)
	}
	if rec.CacheRaw, err = jsonText(p.names[jlCache], v); err != nil {
		return err
	}
	rec.Cache = p.vocab.Classify(rec.CacheRaw)

	if v = p.f[jlPath].get(vals); !v.present() {
		return p.missing(jlPath)
	}
	path, err := jsonText(p.names[jlPath], v)
	if err != nil {
		return err
	}
	if err := splitTarget(path, rec); err != nil {
		return err
	}
	if v = p.f[jlQuery].get(vals); v != nil && v.present() {
		if rec.Query, err = jsonText(p.names[jlQuery], v); err != nil {
			return err
		}
		if len(rec.Query) > 0 && rec.Query[0] == '?' {
			rec.Query = rec.Query[1:]
		}
	}

	if v = p.f[jlIP].get(vals); v != nil && v.present() { // absent or null: this line has none
		ip, err := jsonText(p.names[jlIP], v)
		if err != nil {
			return err
		}
		if rec.ClientIP, err = clientAddr(p.names[jlIP], ip); err != nil {
			return err
		}
	}
	if v = p.f[jlMethod].get(vals); v != nil {
		if rec.Method, err = jsonText(p.names[jlMethod], v); err != nil {
			return err
		}
	}
	if v = p.f[jlHost].get(vals); v != nil && v.present() { // absent: the URL's host, if any
		if rec.Host, err = jsonText(p.names[jlHost], v); err != nil {
			return err
		}
	}
	if v = p.f[jlPop].get(vals); v != nil {
		if rec.Pop, err = jsonScalar(p.names[jlPop], v); err != nil {
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
			case jsonString:
				id = CookieValue(v.text(), p.cookie)
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

func (p *jsonl) missing(part int) error {
	return reject(p.names[part] + " missing")
}

func (p *jsonl) setVocab(v *Vocab) { p.vocab = v }

// jsonlVocab is the generic one: the nginx, CloudFront and Cloudflare
// wordings together. logs[].cache_values adds the log's own.
var jsonlVocab = NewVocab(
	[]string{"miss", "expired"},
	[]string{"hit", "stale", "updating", "revalidated", "refreshhit"},
	[]string{"bypass", "dynamic", "error", "limitexceeded", "capacityexceeded", "redirect", ""},
)

var jsonlFormat = &Format{
	Name:      "jsonl",
	Title:     "any JSON lines: fields maps each record part to your keys",
	Vocab:     jsonlVocab,
	Options:   []string{OptFields},
	Config:    "fields: {time, ip, method, host, path, query, status, cache, pop, identity} → your JSON keys (dotted paths reach into objects); cache_values: for your cache wordings",
	Example:   `{"ts":"2017-06-22T00:41:00.123Z","ip":"203.0.113.9","uri":"/mypage/profile","status":200,"cache":"HIT","sid":"abc"}`,
	CacheHint: "log the cache result and name its key in fields.cache",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewJSONL(src.Fields, id)
	},
}
