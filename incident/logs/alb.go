package logs

import (
	"bytes"
	"fmt"

	"github.com/breachctl/breachctl/incident"
)

// albFieldNames are the fields of an AWS Application Load Balancer access
// log entry, in order, as "Access log entries" in the Elastic Load
// Balancing user guide (docs.aws.amazon.com/elasticloadbalancing, "Access
// logs for your Application Load Balancer") lists them. Newer entries may
// carry more fields at the end: they are accepted and not read.
var albFieldNames = [...]string{
	"type", "time", "elb", "client:port", "target:port",
	"request_processing_time", "target_processing_time", "response_processing_time",
	"elb_status_code", "target_status_code", "received_bytes", "sent_bytes",
	"request", "user_agent", "ssl_cipher", "ssl_protocol", "target_group_arn", "trace_id",
	"domain_name", "chosen_cert_arn", "matched_rule_priority", "request_creation_time",
	"actions_executed", "redirect_url", "error_reason", "target:port_list",
	"target_status_code_list", "classification", "classification_reason", "conn_trace_id",
}

const (
	albType      = 0
	albTime      = 1
	albELB       = 2
	albClient    = 3
	albStatus    = 8
	albRequest   = 12
	albMinFields = 18 // up to trace_id: the entries of 2016 have no more
)

// alb parses ALB access logs: space-separated fields, the request, user
// agent and later text fields in double quotes. The request is
// "GET https://host:443/path?q HTTP/1.1": a full URL, split into host,
// path and query.
//
// An ALB does not cache: every response comes from a target (or from the
// load balancer itself), so every line is ORIGIN and the parser reports
// Capabilities{Cache: false}. The logs hold no cookie and no user: the
// identity can only be field:NAME naming one of the fields above, which
// rarely identifies a person.
type alb struct {
	id     Identity
	idx    int // the field of field:NAME; -1 without one
	last   int // the last field read
	fields int // the fields a line needs at least
}

// NewALB returns the parser for ALB access logs.
func NewALB(id Identity) (Parser, error) {
	p := &alb{id: id, idx: -1, last: albRequest, fields: albMinFields}
	switch id.Kind {
	case "":
	case "field":
		p.idx = indexOf(albFieldNames[:], id.Name)
		if p.idx < 0 {
			return nil, fmt.Errorf("identity field:%s: ALB access logs have no field %q (they have %s)", id.Name, id.Name, joinNames(albFieldNames[:]))
		}
		p.last = max(p.last, p.idx)
		p.fields = max(p.fields, p.idx+1)
	case "cookie":
		return nil, fmt.Errorf("ALB access logs hold no cookies: use the CDN's logs for identity, or no identity")
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user does not exist in ALB access logs")
	default:
		return nil, fmt.Errorf("identity %q: want field:NAME", id.Kind)
	}
	return p, nil
}

// clipShort is clip for values quoted next to others in one reason: a
// quoted byte can take four.
func clipShort(b []byte) string {
	if len(b) > 20 {
		return string(b[:20]) + "…"
	}
	return string(b)
}

func joinNames(ns []string) string {
	var b bytes.Buffer
	for i, n := range ns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

// Capabilities: an ALB logs no cache result; an identity only as a field.
func (p *alb) Capabilities() Capabilities {
	return Capabilities{Cache: false, Identity: p.id.Kind == "field"}
}

// nextField cuts the first field off line: a run of non-spaces, or a
// double-quoted text up to a quote followed by a space or the end (so that
// a quote inside a user agent does not end it; \" is skipped too). quoted
// reports a quoted field, returned without its quotes; ok is false for an
// unterminated quote.
func nextField(line []byte) (field, rest []byte, quoted, ok bool) {
	if len(line) > 0 && line[0] == '"' {
		for i := 1; i < len(line); i++ {
			switch line[i] {
			case '\\':
				i++
			case '"':
				if i+1 == len(line) {
					return line[1:i], nil, true, true
				}
				if line[i+1] == ' ' {
					return line[1:i], line[i+2:], true, true
				}
			}
		}
		return nil, nil, true, false
	}
	if i := bytes.IndexByte(line, ' '); i >= 0 {
		return line[:i], line[i+1:], false, true
	}
	return line, nil, false, true
}

// Parse implements Parser.
func (p *alb) Parse(line []byte, rec *Record) error {
	for len(line) > 0 && (line[len(line)-1] == '\r' || line[len(line)-1] == '\n') {
		line = line[:len(line)-1]
	}
	var f [len(albFieldNames)][]byte
	rest := line
	n := 0
	for ; len(rest) > 0 && n < p.fields; n++ {
		var ok bool
		if f[n], rest, _, ok = nextField(rest); !ok {
			return reject(fmt.Sprintf("field %d (%s) opens a quote it does not close", n+1, albFieldNames[n]))
		}
	}
	if n < p.fields {
		return reject(fmt.Sprintf("has %d fields, an ALB access log entry has at least %d", n, p.fields))
	}
	switch string(f[albType]) {
	case "http", "https", "h2", "grpcs", "ws", "wss":
	default:
		return reject(fmt.Sprintf("type %q is not an ALB request type (http, https, h2, grpcs, ws, wss)", clipShort(f[albType])))
	}
	var ok bool
	if rec.Time, rec.Coarse, ok = ParseRFC3339(f[albTime]); !ok {
		return reject(fmt.Sprintf("time %q is not an ISO 8601 time", clipShort(f[albTime])))
	}
	st, ok := digits(f[albStatus])
	if !ok || len(f[albStatus]) != 3 {
		return reject(fmt.Sprintf("elb_status_code %q is not a status number", clip(f[albStatus])))
	}
	rec.Status = st
	var err error
	if rec.ClientIP, err = clientAddr("client:port", f[albClient]); err != nil {
		return err
	}
	rec.Pop = f[albELB]

	// "METHOD URL PROTOCOL"; "- URL -" when the load balancer could not
	// parse the request.
	req := f[albRequest]
	sp := bytes.IndexByte(req, ' ')
	if sp <= 0 {
		return reject(fmt.Sprintf("request %q is not \"METHOD URL PROTOCOL\"", clip(req)))
	}
	rec.Method, req = req[:sp], req[sp+1:]
	if anonymous(rec.Method) {
		return reject("request method is -: the load balancer could not parse the request")
	}
	if sp = bytes.LastIndexByte(req, ' '); sp >= 0 {
		req = req[:sp]
	}
	if err := splitTarget(req, rec); err != nil {
		return err
	}
	rec.Cache = CacheOrigin // an ALB stores nothing

	if p.idx >= 0 && !anonymous(f[p.idx]) {
		rec.Identity = f[p.idx]
	}
	return nil
}

// albVocab: nothing is ever cached.
var albVocab = NewVocab(nil, nil, []string{""})

var albFormat = &Format{
	Name:  "alb",
	Title: "AWS Application Load Balancer access logs (no cache: every response is ORIGIN)",
	Vocab: albVocab,
	Config: "nothing to paste: the field order is AWS's; an ALB caches nothing and logs no cookie — ingest the CDN's logs in front of it, " +
		"or set accept_missing: [cache] when ALB logs are used on purpose; identity can only be field:NAME (an ALB field name) or none",
	Example:   `https 2017-06-22T00:41:00.123456Z app/shop-alb/50dc6c495c0c9188 203.0.113.9:51234 10.0.0.1:80 0.000 0.012 0.000 200 200 512 5380 "GET https://www.example.jp:443/mypage/profile HTTP/1.1" "Mozilla/5.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/shop/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "www.example.jp" "-" 0 2017-06-22T00:41:00.111000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234`,
	CacheHint: "an Application Load Balancer has no cache: ingest the logs of the CDN in front of it",
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewALB(id)
	},
}
