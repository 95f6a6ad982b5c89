package logs

import (
	"bytes"

	"github.com/breachctl/breachctl/incident"
)

// fastly reads Fastly real-time log streaming in JSON: the log format a
// logging endpoint is given (Fastly's JSON examples and the New Relic
// endpoint's default format use these keys), one object per line, either
// bare or after the syslog header Fastly's syslog endpoints put in front
// ("<134>2024-01-01T00:00:00Z cache-nrt1234 name[123]: {...}"), whose
// host, the cache node, is the pop when the object names none.
//
// Followed: Fastly docs, "Custom log formats" and the fastly_info.state
// reference (states NONE, HIT, HITPASS, HIT-STALE, HIT-SYNTH, MISS, PASS,
// UPGRADE, ERROR, ERROR-LOSTHDR, BG-ERROR-*, suffixes -CLUSTER, -REFRESH,
// -WAIT), and the New Relic endpoint's default format (cache_status: the
// state cut to HIT, MISS, PASS, ERROR, PIPE or SYNTH).
type fastly struct{ *jsonl }

// fastlyKeys are the keys read, first present wins.
var fastlyKeys = [jlParts][]string{
	jlTime:   {"timestamp", "time_start", "start_time", "time"},
	jlIP:     {"client_ip", "client.ip"},
	jlMethod: {"request_method", "method", "request"}, // req.request is the method
	jlHost:   {"host"},
	jlURL:    {"url"},
	jlStatus: {"response_status", "status"},
	jlCache:  {"fastly_info.state", "response_state", "cache_status", "state"},
	jlPop:    {"pop", "server_datacenter", "datacenter"},
}

// NewFastly returns the parser for Fastly JSON log lines.
func NewFastly(id Identity) (Parser, error) {
	p, err := newJSONL(jsonlConfig{keys: fastlyKeys, vocab: fastlyVocab, tf: timeSpec{kind: tfAutoUTC}, cookies: []string{"request_cookie", "cookie", "req.http.Cookie"}}, id)
	if err != nil {
		return nil, err
	}
	return fastly{p}, nil
}

// Parse implements Parser: a syslog header is stripped first.
func (p fastly) Parse(line []byte, rec *Record) error {
	var node []byte
	if len(line) > 0 && line[0] == '<' {
		var ok bool
		if node, line, ok = cutSyslog(line); !ok {
			return reject("the line starts with '<' but not with a syslog header \"<PRI>TIME HOST TAG: \"")
		}
	}
	if err := p.jsonl.Parse(line, rec); err != nil {
		return err
	}
	if len(rec.Pop) == 0 && len(node) > 0 {
		rec.Pop = node
	}
	return nil
}

// cutSyslog strips "<PRI>TIMESTAMP HOST TAG: " and returns the host.
func cutSyslog(line []byte) (host, rest []byte, ok bool) {
	i := bytes.IndexByte(line, '>')
	if i < 2 || i > 4 {
		return nil, nil, false
	}
	if _, ok := digits(line[1:i]); !ok {
		return nil, nil, false
	}
	rest = line[i+1:]
	// TIMESTAMP, then HOST, then the tag up to ": ".
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return nil, nil, false
	}
	rest = rest[sp+1:]
	if sp = bytes.IndexByte(rest, ' '); sp <= 0 {
		return nil, nil, false
	}
	host, rest = rest[:sp], rest[sp+1:]
	c := bytes.Index(rest, []byte(": "))
	if c < 0 || bytes.IndexByte(rest[:c], '{') >= 0 {
		return nil, nil, false
	}
	return host, rest[c+2:], true
}

// fastlyVocab: fastly_info.state with its suffixes, and the short
// cache_status wordings. A synthetic response (HIT-SYNTH, SYNTH) is made by
// Fastly itself, never from a stored page: ORIGIN. -REFRESH: the origin
// said 304 and the stored object was served: CACHED. NONE and the
// background errors stay unknown.
var fastlyVocab = func() *Vocab {
	var fill, cached, origin []string
	suffixes := []string{"", "-CLUSTER", "-WAIT", "-CLUSTER-WAIT", "-WAIT-CLUSTER"}
	add := func(list *[]string, base string) {
		for _, s := range suffixes {
			*list = append(*list, base+s)
		}
	}
	add(&cached, "HIT")
	add(&cached, "HIT-STALE")
	add(&fill, "MISS")
	for _, b := range []string{"HIT", "HIT-STALE", "MISS"} {
		for _, s := range []string{"-REFRESH", "-CLUSTER-REFRESH", "-REFRESH-CLUSTER"} {
			cached = append(cached, b+s)
		}
	}
	for _, b := range []string{"PASS", "HITPASS", "HIT-SYNTH", "ERROR", "ERROR-LOSTHDR", "UPGRADE"} {
		add(&origin, b)
	}
	origin = append(origin, "PIPE", "SYNTH")
	return NewVocab(fill, cached, origin)
}()

var fastlyFormat = &Format{
	Name:  "fastly",
	Title: "Fastly real-time log streaming, JSON (bare, or after a syslog header)",
	Vocab: fastlyVocab,
	Config: `log format (JSON): {"timestamp":"%{strftime(\{"%Y-%m-%dT%H:%M:%S%z"\}, time.start)}V","client_ip":"%{req.http.Fastly-Client-IP}V","request_method":"%{json.escape(req.method)}V",` +
		`"host":"%{json.escape(req.http.Host)}V","url":"%{json.escape(req.url)}V","response_status":%{resp.status}V,"fastly_info.state":"%{json.escape(fastly_info.state)}V",` +
		`"pop":"%{server.datacenter}V","request_cookie":"%{json.escape(req.http.Cookie)}V"}; identity cookie:NAME reads request_cookie, field:NAME any key`,
	Example:   `<134>2017-06-22T00:41:00Z cache-nrt1234 breachlog[123]: {"timestamp":"2017-06-22T00:41:00+0000","client_ip":"203.0.113.9","request_method":"GET","host":"www.example.jp","url":"/mypage/profile?tab=1","response_status":200,"fastly_info.state":"HIT-CLUSTER","pop":"NRT","request_cookie":"sid=abc"}`,
	CacheHint: `add "fastly_info.state":"%{json.escape(fastly_info.state)}V" to the endpoint's log format`,
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewFastly(id)
	},
}
