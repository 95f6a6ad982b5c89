package logs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// HAProxy HTTP logs: "option httplog" lines or a custom log-format, with
// or without a syslog header, translated to the nginx engine's roles.
//
// Followed: the HAProxy configuration manual, section 8.2.3 "HTTP log
// format" (the httplog fields and its example line, captured request and
// response headers in {a|b} after "capture request header NAME len N")
// and 8.2.6 "Custom log format" (the %-variables: %ci %cp %t %tr %trg %trl
// %T %Tl %Ts %ms %ST %B %r %HM %HU %HP %HQ %CC %hr %hs %H, flags such as
// %{+Q}r, sample fetches %[...]); section 7.3 for res.cache_hit (1 when the
// response came from HAProxy's cache). HAProxy's date_time (%t, %tr) is the
// host's local time with milliseconds and no offset: fields.zone says it.

// HAProxyHTTPLog is the log-format "option httplog" stands for.
const HAProxyHTTPLog = `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r`

// haproxyVocab: res.cache_hit (1/0) and the usual X-Cache wordings of a
// cache behind HAProxy whose response header is captured. A response not
// from HAProxy's cache may be stored by it (FILL).
var haproxyVocab = NewVocab(
	[]string{"0", "MISS", "EXPIRED"},
	[]string{"1", "HIT", "STALE", "UPDATING", "REVALIDATED"},
	[]string{"BYPASS"},
)

var haproxyFormat = &Format{
	Name:    "haproxy",
	Title:   "HAProxy HTTP log (option httplog, or your log-format), with or without a syslog header",
	Vocab:   haproxyVocab,
	Options: []string{OptLogFormat, OptFields},
	Config: `leave log_format empty for option httplog, or paste the log-format line. fields: {zone: "+09:00"} is required for %tr/%t (HAProxy logs local time without an offset; %trg/%trl/%Ts carry one); ` +
		`{request_captures: "Host,Cookie", response_captures: "X-Cache"} list the "capture request/response header" lines in order; {cache: ..., pop: ...} name another variable or captured header. ` +
		`For the cache result log %[res.cache_hit] (HAProxy's cache) or capture the X-Cache response header. identity: cookie:NAME (captured Cookie header, %CC or %[req.cook(NAME)]), field:NAME (a captured header or a %[...] variable)`,
	Example:   `Jun 22 09:41:00 lb1 haproxy[14389]: 203.0.113.9:51234 [22/Jun/2017:09:41:00.655] https-in~ web/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {www.example.jp|sid=abc} {HIT} "GET /mypage/profile HTTP/1.1"`,
	CacheHint: `HAProxy logs no cache result by default: add %[res.cache_hit] to the log-format (HAProxy's own cache), or "capture response header X-Cache len 16" and name it in fields: {response_captures: X-Cache}`,
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewHAProxy(src.LogFormat, id, src.Fields)
	},
}

// haproxyParser strips a syslog header ("Feb  6 12:14:14 host
// haproxy[14389]: ") before the engine reads the line.
type haproxyParser struct {
	*Nginx
}

// Parse implements Parser.
func (h haproxyParser) Parse(line []byte, rec *Record) error {
	return h.Nginx.Parse(stripSyslogTag(line), rec)
}

// stripSyslogTag removes everything up to "TAG[PID]: " near the start of
// the line, if there is one.
func stripSyslogTag(line []byte) []byte {
	head := line
	if len(head) > 256 {
		head = head[:256]
	}
	i := bytes.Index(head, []byte("]: "))
	if i < 0 {
		return line
	}
	j := bytes.LastIndexByte(head[:i], '[')
	if j <= 0 || j+1 == i {
		return line
	}
	if _, ok := digits(head[j+1 : i]); !ok {
		return line
	}
	if c := head[j-1]; c == ' ' || c == ']' {
		return line
	}
	return line[i+3:]
}

// NewHAProxy compiles an HAProxy log-format (empty or "option httplog":
// the httplog format).
func NewHAProxy(format string, id Identity, fields map[string]string) (Parser, error) {
	for _, k := range sortedKeys(fields) {
		switch k {
		case "zone", "pop", "cache", "request_captures", "response_captures":
		default:
			return nil, &fieldError{key: "fields." + k, msg: fmt.Sprintf("unknown field %q; expected one of: cache, pop, request_captures, response_captures, zone", k)}
		}
	}
	n := &Nginx{id: id, timeIdx: -1, vocab: haproxyVocab, addrName: "%ci"}
	if z := fields["zone"]; z != "" {
		off, ok := parseOffset([]byte(strings.TrimSpace(z)))
		if !ok {
			return nil, &fieldError{key: "fields.zone", msg: fmt.Sprintf("%q is not an offset like +09:00, -0500 or Z", z)}
		}
		n.zone, n.hasZone = off, true
	}
	reqCaps, resCaps := splitList(fields["request_captures"]), splitList(fields["response_captures"])
	f := unwrapHAProxy(format)
	// With no "capture ... header" lines, HAProxy writes no {} for them.
	if len(reqCaps) == 0 {
		f = strings.Replace(strings.Replace(f, "%hr ", "", 1), " %hr", "", 1)
	}
	if len(resCaps) == 0 {
		f = strings.Replace(strings.Replace(f, "%hs ", "", 1), " %hs", "", 1)
	}
	n.format = f
	lits, vars, err := splitHAProxy(f)
	if err != nil {
		return nil, fmt.Errorf("log-format: %w", err)
	}
	cacheName, popName := fields["cache"], fields["pop"]
	capsOf := func(names []string, response bool) []capture {
		cs := make([]capture, len(names))
		for i, h := range names {
			switch {
			case cacheName != "" && strings.EqualFold(h, cacheName):
				cs[i].role = roleCache
			case cacheName == "" && response && (strings.EqualFold(h, "X-Cache") || strings.EqualFold(h, "X-Cache-Status")):
				cs[i].role = roleCache
			case !response && strings.EqualFold(h, "Host"):
				cs[i].role = roleHost
			case !response && strings.EqualFold(h, "Cookie"):
				cs[i].role = roleCookieHeader
			}
			cs[i].ident = id.Kind == "field" && strings.EqualFold(h, id.Name)
		}
		return cs
	}
	var specs []tokSpec
	for i := range vars {
		v := &vars[i]
		s := tokSpec{name: v.label, label: v.label}
		if strings.Contains(v.flags, "+Q") {
			lits[i] += `"`
			lits[i+1] = `"` + lits[i+1]
		}
		switch v.name {
		case "ci":
			s.role = roleRemoteAddr
		case "t", "tr":
			s.role = roleTimeParts
			s.layout, _ = compileStrftime("%d/%b/%Y:%H:%M:%S.%f")
		case "trg", "trl", "T", "Tl":
			s.role = roleTimeLocal
		case "Ts":
			s.role = roleEpochSec
		case "ms":
			s.role = roleTimeFrac
		case "r":
			s.role = roleRequest
		case "HM":
			s.role = roleMethod
		case "HU":
			s.role = roleRequestURI
		case "HP":
			s.role = roleURI
		case "HQ":
			s.role = roleQueryQ
		case "ST":
			s.role = roleStatus
		case "CC":
			s.role = roleCookieHeader
		case "H":
			if popName == "" {
				s.role = rolePop
			}
		case "hr", "hs":
			names := reqCaps
			if v.name == "hs" {
				names = resCaps
			}
			if len(names) == 0 {
				return nil, &fieldError{key: "fields." + map[string]string{"hr": "request_captures", "hs": "response_captures"}[v.name],
					msg: fmt.Sprintf("the log-format logs %s: list the headers of the capture %s header lines, in order", v.label, map[string]string{"hr": "request", "hs": "response"}[v.name])}
			}
			s.role, s.braced, s.caps = roleCaptures, true, capsOf(names, v.name == "hs")
		case "hrl", "hsl":
			return nil, fmt.Errorf("log-format: %s is not supported: log %%hr / %%hs instead", v.label)
		case "":
			s.role, s.ident = haproxyFetch(v.expr, id, reqCaps, resCaps, capsOf)
		}
		if cacheName != "" && (v.label == cacheName || (v.expr != "" && v.expr == cacheName)) {
			s.role = roleCache
		}
		if popName != "" && (v.label == popName || (v.expr != "" && v.expr == popName)) {
			s.role = rolePop
		}
		if id.Kind == "field" && (v.label == id.Name || (v.expr != "" && v.expr == id.Name)) {
			s.ident = true
		}
		specs = append(specs, s)
	}
	// %ci:%cp: one address with its port (an IPv6 address is not bracketed).
	for i := 0; i+1 < len(vars); i++ {
		if specs[i].role == roleRemoteAddr && vars[i+1].name == "cp" && lits[i+1] == ":" {
			specs[i].role, specs[i].label, specs[i].name = roleAddrPort, "%ci:%cp", "%ci:%cp"
			specs = append(specs[:i+1], specs[i+2:]...)
			lits = append(lits[:i+1], lits[i+2:]...)
			vars = append(vars[:i+1], vars[i+2:]...)
		}
	}
	for i := 0; i+1 < len(specs); i++ { // %HP%HQ likewise
		if specs[i].role == roleURI && specs[i+1].role == roleQueryQ && lits[i+1] == "" {
			specs[i].role, specs[i].label = roleRequestURI, specs[i].label+specs[i+1].label
			specs = append(specs[:i+1], specs[i+2:]...)
			lits = append(lits[:i+1], lits[i+2:]...)
		}
	}
	have, err := n.build(lits, specs)
	if err != nil {
		return nil, fmt.Errorf("log-format: %w", err)
	}
	if n.timeIdx < 0 {
		if _, ok := have[roleTimeParts]; ok {
			return nil, &fieldError{key: "fields.zone", msg: "%tr and %t are the proxy's local time, logged without an offset: give it, e.g. fields: {zone: \"+09:00\"} (\"+00:00\" for UTC), or log %trg / %trl"}
		}
		return nil, fmt.Errorf("log-format has no time: it needs %%tr, %%t, %%trg, %%trl, %%T, %%Tl or %%Ts")
	}
	if _, ok := have[roleStatus]; !ok {
		return nil, fmt.Errorf("log-format has no status: it needs %%ST")
	}
	_, hasReq := have[roleRequest]
	_, hasURI := have[roleRequestURI]
	_, hasU := have[roleURI]
	if !hasReq && !hasURI && !hasU {
		return nil, fmt.Errorf("log-format has no request path: it needs %%r, %%HU or %%HP")
	}
	switch id.Kind {
	case "remote_user":
		return nil, fmt.Errorf("identity remote_user: HAProxy logs no remote user; use cookie:NAME or field:NAME")
	case "cookie":
		if _, hdr := have[roleCookieHeader]; !hdr && !n.hasIdent {
			return nil, fmt.Errorf("identity cookie:%s: the log-format has no cookie: capture the Cookie request header (request_captures), log %%CC (capture cookie %s len 64) or %%[req.cook(%s)]", id.Name, id.Name, id.Name)
		}
	case "field":
		if !n.hasIdent {
			return nil, fmt.Errorf("identity field:%s: the log-format has no such variable or captured header", id.Name)
		}
	}
	for _, k := range []struct {
		key  string
		role role
	}{{"pop", rolePop}, {"cache", roleCache}} {
		if want := fields[k.key]; want != "" {
			if _, ok := have[k.role]; !ok {
				return nil, &fieldError{key: "fields." + k.key, msg: fmt.Sprintf("the log-format has no variable or captured header %s", want)}
			}
		}
	}
	return haproxyParser{n}, nil
}

// haproxyFetch maps a %[sample fetch] to its role.
func haproxyFetch(expr string, id Identity, reqCaps, resCaps []string, capsOf func([]string, bool) []capture) (role, bool) {
	base, _, _ := strings.Cut(expr, ",") // converters after the fetch
	base = strings.ToLower(strings.TrimSpace(base))
	arg := ""
	if i := strings.IndexByte(base, '('); i >= 0 && strings.HasSuffix(base, ")") {
		base, arg = base[:i], base[i+1:len(base)-1]
	}
	switch base {
	case "res.cache_hit":
		return roleCache, false
	case "req.hdr", "hdr", "req.fhdr":
		switch arg {
		case "host":
			return roleHost, false
		case "cookie":
			return roleCookieHeader, false
		}
	case "res.hdr", "res.fhdr":
		if arg == "x-cache" || arg == "x-cache-status" {
			return roleCache, false
		}
	case "req.cook", "cook":
		return roleNone, id.Kind == "cookie" && strings.EqualFold(arg, id.Name)
	case "capture.req.hdr", "capture.res.hdr":
		k, err := strconv.Atoi(arg)
		names := reqCaps
		if base == "capture.res.hdr" {
			names = resCaps
		}
		if err == nil && k >= 0 && k < len(names) {
			c := capsOf(names, base == "capture.res.hdr")[k]
			return c.role, c.ident
		}
	}
	return roleNone, false
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// unwrapHAProxy turns a pasted `log-format "..."` line (or its unquoted
// form with "\ " escapes) into the format; empty or "option httplog" is
// the httplog format.
func unwrapHAProxy(s string) string {
	t := strings.TrimSpace(s)
	if t == "" || t == "option httplog" || t == "httplog" {
		return HAProxyHTTPLog
	}
	t = strings.TrimSpace(strings.TrimPrefix(t, "log-format"))
	if len(t) >= 2 && (t[0] == '"' || t[0] == '\'') && t[len(t)-1] == t[0] {
		t = t[1 : len(t)-1]
	}
	return unescapeConf(t)
}

type haVar struct {
	name  string // ci, tr, ST, ...; "" for a %[fetch]
	expr  string // the fetch of %[...]
	flags string // +Q, ...
	label string // as written
}

// splitHAProxy splits a log-format into literals and variables: %name,
// %{flags}name, %[fetch], %{flags}[fetch]; %% is a '%'.
func splitHAProxy(f string) ([]string, []haVar, error) {
	var lits []string
	var vs []haVar
	var cur strings.Builder
	for i := 0; i < len(f); {
		if f[i] != '%' {
			cur.WriteByte(f[i])
			i++
			continue
		}
		start := i
		i++
		if i < len(f) && f[i] == '%' {
			cur.WriteByte('%')
			i++
			continue
		}
		var v haVar
		if i < len(f) && f[i] == '{' {
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return nil, nil, fmt.Errorf("unclosed %%{ at byte %d", start)
			}
			v.flags = f[i+1 : i+end]
			i += end + 1
		}
		switch {
		case i < len(f) && f[i] == '[':
			depth, j := 0, i
			for ; j < len(f); j++ {
				if f[j] == '[' {
					depth++
				} else if f[j] == ']' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j >= len(f) {
				return nil, nil, fmt.Errorf("unclosed %%[ at byte %d", start)
			}
			v.expr = f[i+1 : j]
			i = j + 1
		default:
			j := i
			for j < len(f) && (('a' <= f[j] && f[j] <= 'z') || ('A' <= f[j] && f[j] <= 'Z')) {
				j++
			}
			if j == i {
				return nil, nil, fmt.Errorf("%% at byte %d is not followed by a variable", start)
			}
			v.name = f[i:j]
			i = j
		}
		v.label = f[start:i]
		lits = append(lits, cur.String())
		cur.Reset()
		vs = append(vs, v)
	}
	lits = append(lits, cur.String())
	if len(vs) == 0 {
		return nil, nil, fmt.Errorf("format %q has no %%variables", f)
	}
	return lits, vs, nil
}
