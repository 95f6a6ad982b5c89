package logs

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// CombinedFormat is nginx's predefined "combined" log_format (Apache's too).
const CombinedFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`

// Nginx parses lines written by an nginx log_format (or the equivalent
// Apache LogFormat), compiled once into a sequence of literals and variables
// scanned byte by byte: no regular expression per line.
type Nginx struct {
	vocab  *Vocab
	format string
	lead   []byte // literal before the first variable
	toks   []nginxTok
	id     Identity
	// Which variables carry what (index into toks, -1 when absent).
	hasIdent bool // a variable holds the identity itself
	hasAddr  bool // $remote_addr is logged: each line's must be an IP address
	hasCache bool // a variable (or a captured header) holds the cache result
	timeIdx  int
	// timeKind: 'l' $time_local, 'i' $time_iso8601, 'm' $msec; from the
	// other dialects (apache.go, haproxy.go): 's', 'M', 'U' Unix seconds,
	// milliseconds, microseconds as integers, 'p' a strftime time in parts.
	timeKind byte
	frac     bool   // a variable holds the time's fraction (Apache %{msec_frac}t, HAProxy %ms)
	zone     int    // offset (seconds) for a time logged without one (fields.zone)
	hasZone  bool   // zone was given
	cacheCut bool   // classify the cache value by its text before ':' (Apache's cache-status)
	addrName string // the client address variable, for reject reasons
}

type nginxTok struct {
	name   string // variable name without '$'
	label  string // as written in the format ($remote_addr, %{User-agent}i), for reasons
	role   role
	after  []byte // literal that follows the variable (empty = end of line)
	scan   scan   // how the value's end is found
	quoted bool   // inside "...": a '"' can be escaped with '\'
	ident  bool   // holds the identity (field:NAME, or $cookie_NAME for cookie:NAME)
	skip   int    // occurrences of after inside every value (a strftime time with spaces)
	layout *timeLayout
	caps   []capture // roleCaptures: what each |-separated captured header holds
}

// scan says how a variable's value ends.
type scan uint8

const (
	scanLiteral scan = iota // at the first occurrence of after
	scanQuoted              // at the closing quote followed by after
	scanRest                // at the end of the line
	scanSkip                // at the (skip+1)-th occurrence of after
	scanBraced              // at the first '}' (HAProxy's {captured|headers})
)

// capture is one header of HAProxy's {a|b|c} capture list.
type capture struct {
	role  role // roleHost, roleCookieHeader, roleCache or roleNone
	ident bool
}

// tokSpec is one variable of a format in any dialect (nginx $var, Apache
// %x, HAProxy %var), translated to the engine's roles.
type tokSpec struct {
	name   string
	label  string
	role   role
	ident  bool
	braced bool
	layout *timeLayout
	caps   []capture
}

type role uint8

const (
	roleNone role = iota
	roleRemoteAddr
	roleRemoteUser
	roleTimeLocal
	roleTimeISO
	roleMsec
	roleRequest
	roleRequestURI
	roleURI
	roleArgs
	roleMethod
	roleStatus
	roleHost
	roleHTTPHost
	roleServerName
	roleCookieHeader
	roleCache
	rolePop
	roleQueryQ    // a query string with its leading '?' (Apache %q, HAProxy %HQ)
	roleAddrPort  // address:port (HAProxy %ci:%cp)
	roleTimeParts // a strftime time (tok.layout)
	roleTimeFrac  // the fraction of the time's second, as digits
	roleEpochSec
	roleEpochMs
	roleEpochUs
	roleCaptures // HAProxy {captured|headers} (tok.caps)
)

// NewNginx compiles an nginx log_format string. The argument may be just the
// format ('$remote_addr - ...'), or the whole directive pasted from
// nginx.conf (log_format main '...' '...';). Empty means "combined". popVar
// names the variable holding the edge (default: hostname, if present).
func NewNginx(format string, id Identity, popVar string) (*Nginx, error) {
	f := unwrapDirective(format)
	if strings.TrimSpace(f) == "" {
		f = CombinedFormat
	}
	n := &Nginx{format: f, id: id, timeIdx: -1, vocab: nginxVocab, addrName: "$remote_addr"}
	if err := n.compile(strings.TrimPrefix(popVar, "$")); err != nil {
		return nil, err
	}
	return n, nil
}

// Format returns the compiled log_format.
func (n *Nginx) Format() string { return n.format }

// unwrapDirective turns `log_format main '$a' '"$b"';` into `$a"$b"`.
func unwrapDirective(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "log_format") {
		return s
	}
	t = strings.TrimSpace(strings.TrimPrefix(t, "log_format"))
	// Skip the name and an optional escape=...
	for {
		sp := strings.IndexAny(t, " \t\n")
		if sp < 0 || strings.HasPrefix(t, "'") || strings.HasPrefix(t, `"`) {
			break
		}
		t = strings.TrimSpace(t[sp:])
	}
	t = strings.TrimSuffix(strings.TrimSpace(t), ";")
	var b strings.Builder
	for len(t) > 0 {
		t = strings.TrimSpace(t)
		if t == "" {
			break
		}
		q := t[0]
		if q != '\'' && q != '"' {
			b.WriteString(t)
			break
		}
		end := strings.IndexByte(t[1:], q)
		if end < 0 {
			b.WriteString(t[1:])
			break
		}
		b.WriteString(t[1 : end+1])
		t = t[end+2:]
	}
	return b.String()
}

func isVarChar(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func (n *Nginx) compile(popVar string) error {
	lits, names, err := splitNginxFormat(n.format)
	if err != nil {
		return err
	}
	specs := make([]tokSpec, len(names))
	for i, name := range names {
		specs[i] = tokSpec{name: name, label: "$" + name, role: n.roleOf(name, popVar),
			ident: (n.id.Kind == "field" && name == n.id.Name) || (n.id.Kind == "cookie" && name == "cookie_"+n.id.Name)}
	}
	have, err := n.build(lits, specs)
	if err != nil {
		return fmt.Errorf("log_format: %w", err)
	}
	if n.timeIdx < 0 {
		return fmt.Errorf("log_format has no time: it needs $time_local, $time_iso8601 or $msec")
	}
	if _, ok := have[roleStatus]; !ok {
		return fmt.Errorf("log_format has no $status")
	}
	_, hasReq := have[roleRequest]
	_, hasURI := have[roleRequestURI]
	_, hasU := have[roleURI]
	if !hasReq && !hasURI && !hasU {
		return fmt.Errorf("log_format has no request path: it needs $request, $request_uri or $uri")
	}
	switch n.id.Kind {
	case "remote_user":
		if _, ok := have[roleRemoteUser]; !ok {
			return fmt.Errorf("identity remote_user: log_format has no $remote_user")
		}
	case "cookie":
		if _, hdr := have[roleCookieHeader]; !hdr && !n.hasIdent {
			return fmt.Errorf("identity cookie:%s: log_format has neither $cookie_%s nor $http_cookie", n.id.Name, n.id.Name)
		}
	case "field":
		if !n.hasIdent {
			return fmt.Errorf("identity field:%s: log_format has no $%s", n.id.Name, n.id.Name)
		}
	}
	if popVar != "" {
		if _, ok := have[rolePop]; !ok {
			return fmt.Errorf("fields.pop: log_format has no $%s", popVar)
		}
	}
	return nil
}

// splitNginxFormat splits an nginx log_format into its literals and
// variable names: len(lits) == len(names)+1.
func splitNginxFormat(f string) (lits, names []string, err error) {
	var cur strings.Builder
	for i := 0; i < len(f); {
		if f[i] != '$' {
			cur.WriteByte(f[i])
			i++
			continue
		}
		var name string
		if i+1 < len(f) && f[i+1] == '{' {
			end := strings.IndexByte(f[i:], '}')
			if end < 0 {
				return nil, nil, fmt.Errorf("log_format: unclosed ${ at byte %d", i)
			}
			name = f[i+2 : i+end]
			i += end + 1
		} else {
			j := i + 1
			for j < len(f) && isVarChar(f[j]) {
				j++
			}
			name = f[i+1 : j]
			i = j
		}
		if name == "" {
			cur.WriteByte('$')
			continue
		}
		lits = append(lits, cur.String())
		cur.Reset()
		names = append(names, name)
	}
	lits = append(lits, cur.String())
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("log_format %q has no $variables", f)
	}
	return lits, names, nil
}

// build compiles a translated format (literals around variables; len(lits)
// == len(specs)+1) into n's tokens, chooses the time variable and returns
// where each role is first held. The dialect then says what is missing in
// its own words.
func (n *Nginx) build(lits []string, specs []tokSpec) (map[role]int, error) {
	n.lead = []byte(lits[0])
	n.toks = n.toks[:0]
	for i, s := range specs {
		before, after := lits[i], lits[i+1]
		if after == "" && i+1 < len(specs) {
			return nil, fmt.Errorf("%s and %s are not separated by any text, so a line cannot be split between them", s.label, specs[i+1].label)
		}
		t := nginxTok{name: s.name, label: s.label, role: s.role, ident: s.ident, after: []byte(after), layout: s.layout, caps: s.caps,
			quoted: strings.HasSuffix(before, `"`) && strings.HasPrefix(after, `"`)}
		switch {
		case s.braced:
			t.scan = scanBraced
		case after == "":
			t.scan = scanRest
		case t.quoted:
			t.scan = scanQuoted
		case s.layout != nil && s.layout.count(after) > 0:
			t.scan, t.skip = scanSkip, s.layout.count(after)
		}
		if t.ident {
			n.hasIdent = true
		}
		for _, c := range t.caps {
			n.hasIdent = n.hasIdent || c.ident
			n.hasCache = n.hasCache || c.role == roleCache
		}
		n.hasCache = n.hasCache || t.role == roleCache
		n.frac = n.frac || t.role == roleTimeFrac
		n.toks = append(n.toks, t)
	}
	have := map[role]int{}
	for i, t := range n.toks {
		if _, dup := have[t.role]; !dup {
			have[t.role] = i
		}
		for _, c := range t.caps {
			if _, dup := have[c.role]; !dup {
				have[c.role] = i
			}
		}
	}
	_, addr := have[roleRemoteAddr]
	_, addrPort := have[roleAddrPort]
	n.hasAddr = addr || addrPort
	// Resolve preferences: $msec beats $time_iso8601 beats $time_local;
	// exact Unix times and complete strftime parts come before a CLF time.
	parts := n.partsComplete()
	for _, r := range []struct {
		role role
		kind byte
	}{{roleMsec, 'm'}, {roleEpochUs, 'U'}, {roleEpochMs, 'M'}, {roleTimeISO, 'i'}, {roleTimeParts, 'p'}, {roleTimeLocal, 'l'}, {roleEpochSec, 's'}} {
		if i, ok := have[r.role]; ok && (r.kind != 'p' || parts) {
			n.timeIdx, n.timeKind = i, r.kind
			break
		}
	}
	return have, nil
}

// partsComplete reports whether the strftime variables together give a
// date, a clock time and a zone (or fields.zone), or a Unix time.
func (n *Nginx) partsComplete() bool {
	var have timeFields
	for _, t := range n.toks {
		if t.role == roleTimeParts {
			have |= t.layout.fields
		}
	}
	if have&tfEpoch != 0 {
		return true
	}
	return have&(tfDate|tfClock) == tfDate|tfClock && (have&tfZone != 0 || n.hasZone)
}

func (n *Nginx) roleOf(name, popVar string) role {
	if popVar != "" && name == popVar {
		return rolePop
	}
	switch name {
	case "remote_addr":
		return roleRemoteAddr
	case "remote_user":
		return roleRemoteUser
	case "time_local":
		return roleTimeLocal
	case "time_iso8601":
		return roleTimeISO
	case "msec":
		return roleMsec
	case "request":
		return roleRequest
	case "request_uri":
		return roleRequestURI
	case "uri":
		return roleURI
	case "args", "query_string":
		return roleArgs
	case "request_method":
		return roleMethod
	case "status":
		return roleStatus
	case "host":
		return roleHost
	case "http_host":
		return roleHTTPHost
	case "server_name":
		return roleServerName
	case "http_cookie":
		return roleCookieHeader
	case "upstream_cache_status":
		return roleCache
	case "hostname":
		if popVar == "" {
			return rolePop
		}
	}
	return roleNone
}

// Parse implements Parser.
func (n *Nginx) Parse(line []byte, rec *Record) error {
	if !bytes.HasPrefix(line, n.lead) {
		return reject(fmt.Sprintf("does not start with %q as the log_format does", n.lead))
	}
	rest := line[len(n.lead):]
	var (
		host, httpHost, serverName []byte
		cookieHeader               []byte
		uri, args                  []byte
		haveArgs                   bool
		timeVal                    []byte
		statusVal                  []byte
		tp                         timeParts
		fracVal                    []byte
	)
	for i := range n.toks {
		t := &n.toks[i]
		var val []byte
		var end int
		switch t.scan {
		case scanRest:
			val, end = rest, len(rest)
		case scanQuoted:
			end = quotedEnd(rest, t.after, i == len(n.toks)-1)
			if end < 0 {
				return reject(fmt.Sprintf("%s: quoted value not closed (truncated line?)", t.label))
			}
			val = rest[:end]
		case scanLiteral:
			end = indexLiteral(rest, t.after)
			if end < 0 {
				return reject(fmt.Sprintf("%s: expected %q after it, not found (truncated line?)", t.label, t.after))
			}
			val = rest[:end]
		default:
			if end = n.scanOther(t, rest); end < 0 {
				return reject(fmt.Sprintf("%s: value not found before %q (truncated line?)", t.label, t.after))
			}
			val = rest[:end]
		}
		rest = rest[end+len(t.after):]
		if i == n.timeIdx {
			timeVal = val
		}
		if t.ident && !anonymous(val) {
			rec.Identity = val
		}
		switch t.role {
		case roleRemoteAddr:
			rec.ClientIP = val
		case roleRemoteUser:
			if n.id.Kind == "remote_user" && !anonymous(val) {
				rec.Identity = val
			}
		case roleRequest:
			if err := splitRequest(val, rec); err != nil {
				return err
			}
		case roleRequestURI:
			uri = val
		case roleURI:
			if uri == nil {
				uri = val
			}
		case roleArgs:
			args, haveArgs = val, true
		case roleMethod:
			rec.Method = val
		case roleStatus:
			statusVal = val
		case roleHost:
			host = val
		case roleHTTPHost:
			httpHost = val
		case roleServerName:
			serverName = val
		case roleCookieHeader:
			cookieHeader = val
		case roleCache:
			rec.CacheRaw = val
		case rolePop:
			rec.Pop = val
		case roleQueryQ:
			if len(val) > 0 && val[0] == '?' {
				val = val[1:]
			}
			args, haveArgs = val, true
		case roleAddrPort:
			rec.ClientIP = cutAddrPort(val)
		case roleTimeParts:
			if n.timeKind == 'p' && !t.layout.parse(val, &tp) {
				return reject(fmt.Sprintf("%s: time %q is not valid", t.label, clip(val)))
			}
		case roleTimeFrac:
			fracVal = val
		case roleCaptures:
			inner := val[1 : len(val)-1] // scanBraced: {...}
			parts := bytes.Count(inner, []byte{'|'}) + 1
			if parts != len(t.caps) {
				return reject(fmt.Sprintf("%s: %d captured headers, the case file names %d", t.label, parts, len(t.caps)))
			}
			for k := range t.caps {
				part := inner
				if j := bytes.IndexByte(inner, '|'); j >= 0 {
					part, inner = inner[:j], inner[j+1:]
				}
				c := &t.caps[k]
				if c.ident && !anonymous(part) {
					rec.Identity = part
				}
				switch c.role {
				case roleHost:
					host = part
				case roleCookieHeader:
					cookieHeader = part
				case roleCache:
					rec.CacheRaw = part
				}
			}
		}
	}
	if len(rest) > 0 {
		return reject(fmt.Sprintf("unexpected text after the last field: %q", clip(rest)))
	}
	// Time.
	var ok bool
	switch n.timeKind {
	case 'm':
		rec.Time, rec.Coarse, ok = ParseUnixDecimal(timeVal)
	case 'i':
		rec.Time, rec.Coarse, ok = ParseRFC3339(timeVal)
	case 's', 'M', 'U':
		rec.Time, rec.Coarse, ok = parseEpochInt(timeVal, n.timeKind)
	case 'p':
		if rec.Time, rec.Coarse, ok = tp.unix(n.zone); !ok {
			return reject("time: the logged date does not exist")
		}
	default:
		rec.Time, ok = ParseCLFTime(timeVal)
		rec.Coarse = true
	}
	if !ok {
		return reject(fmt.Sprintf("time %q is not valid", clip(timeVal)))
	}
	if n.frac {
		f, ok := fraction(fracVal)
		if !ok {
			return reject(fmt.Sprintf("fraction of a second %q is not valid", clip(fracVal)))
		}
		rec.Time += f
		rec.Coarse = false
	}
	st, ok := digits(statusVal)
	if !ok || st > 999 {
		return reject(fmt.Sprintf("status %q is not a number", clip(statusVal)))
	}
	rec.Status = st
	if n.hasAddr {
		var err error
		if rec.ClientIP, err = clientAddr(n.addrName, rec.ClientIP); err != nil {
			return err
		}
	}
	if uri != nil && (rec.Path == nil || len(uri) > 0) {
		if err := splitTarget(uri, rec); err != nil {
			return err
		}
	}
	if haveArgs && !anonymous(args) {
		rec.Query = args
	}
	switch {
	case host != nil:
		rec.Host = host
	case httpHost != nil:
		rec.Host = httpHost
	case serverName != nil:
		rec.Host = serverName
	} // else the host of a full URL in the request line, if any
	if anonymous(rec.Host) {
		rec.Host = nil
	}
	if n.id.Kind == "cookie" && rec.Identity == nil && cookieHeader != nil {
		rec.Identity = CookieValue(cookieHeader, []byte(n.id.Name))
	}
	if n.cacheCut {
		rec.Cache = n.vocab.Classify(cutColon(rec.CacheRaw))
	} else {
		rec.Cache = n.vocab.Classify(rec.CacheRaw)
	}
	return nil
}

// scanOther finds the end of a value scanned with scanSkip or scanBraced;
// -1 when it is not there.
func (n *Nginx) scanOther(t *nginxTok, rest []byte) int {
	if t.scan == scanBraced {
		if len(rest) == 0 || rest[0] != '{' {
			return -1
		}
		end := bytes.IndexByte(rest, '}')
		if end < 0 || !bytes.HasPrefix(rest[end+1:], t.after) {
			return -1
		}
		return end + 1
	}
	off := 0
	for k := 0; k <= t.skip; k++ {
		j := indexLiteral(rest[off:], t.after)
		if j < 0 {
			return -1
		}
		if k == t.skip {
			return off + j
		}
		off += j + len(t.after)
	}
	return -1
}

// cutColon is v up to its first ':' (Apache's cache-status "cache miss:
// attempting entity save" is classified as "cache miss").
func cutColon(v []byte) []byte {
	if i := bytes.IndexByte(v, ':'); i >= 0 {
		return v[:i]
	}
	return v
}

// cutAddrPort drops the ":port" of HAProxy's %ci:%cp, which does not
// bracket an IPv6 address ("2001:db8::1:443").
func cutAddrPort(v []byte) []byte {
	i := bytes.LastIndexByte(v, ':')
	if i < 0 || v[0] == '[' {
		return v
	}
	if _, ok := digits(v[i+1:]); !ok {
		return v
	}
	return v[:i]
}

// splitRequest splits "GET /path?q HTTP/1.1". A request line that is not of
// that shape (garbage sent to the server, "-") still makes a valid log line:
// its path is kept whole so it matches no route.
func splitRequest(v []byte, rec *Record) error {
	sp := bytes.IndexByte(v, ' ')
	if sp <= 0 {
		return splitTarget(v, rec)
	}
	rec.Method = v[:sp]
	uri := v[sp+1:]
	if sp2 := bytes.LastIndexByte(uri, ' '); sp2 >= 0 && bytes.HasPrefix(uri[sp2+1:], []byte("HTTP/")) {
		uri = uri[:sp2]
	}
	return splitTarget(uri, rec)
}

// quotedEnd returns the index of the '"' closing a quoted value: the first
// one not escaped by a backslash that is followed by the rest of the literal
// after (and, for the last variable, by the end of the line). Skipping quotes
// that are not followed by the literal tolerates servers that do not escape
// quotes inside values.
func quotedEnd(b, after []byte, last bool) int {
	off := 0
	for {
		i := bytes.IndexByte(b[off:], '"')
		if i < 0 {
			return -1
		}
		j := off + i
		// Count the backslashes before it.
		k := j
		for k > 0 && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 && bytes.HasPrefix(b[j:], after) && (!last || j+len(after) == len(b)) {
			return j
		}
		off = j + 1
	}
}

// indexLiteral finds lit in b; single-byte literals use the SIMD IndexByte.
func indexLiteral(b, lit []byte) int {
	if len(lit) == 1 {
		return bytes.IndexByte(b, lit[0])
	}
	return bytes.Index(b, lit)
}

// clip shortens a logged value for a reject reason: at most 40 bytes, and
// fewer when they are bytes that %q writes as escapes, so that a reason
// stays short whatever the line holds.
func clip(b []byte) string {
	cost := 0
	for i, c := range b {
		switch {
		case c == '"' || c == '\\':
			cost += 2
		case c < 0x20 || c >= 0x7f:
			cost += 4
		default:
			cost++
		}
		if i == 40 || cost > 60 {
			return string(b[:i]) + "…"
		}
	}
	return string(b)
}

func (n *Nginx) setVocab(v *Vocab) { n.vocab = v }

// nginxVocab is $upstream_cache_status's: an empty value (or "-") means the
// cache was not involved in the request.
var nginxVocab = NewVocab(
	[]string{"MISS", "EXPIRED"},
	[]string{"HIT", "STALE", "UPDATING", "REVALIDATED"},
	[]string{"BYPASS", ""},
)

var nginxFormat = &Format{
	Name:    "nginx",
	Title:   "nginx access log, parsed from your own log_format (Apache's NCSA/combined layouts too)",
	Vocab:   nginxVocab,
	Options: []string{OptLogFormat, OptFields},
	Config: "paste the log_format directive from nginx.conf into log_format (default: combined); " +
		"log $upstream_cache_status for the cache result and $msec for sub-second order; fields: {pop: VAR} names the edge's variable (default $hostname)",
	Example:   `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=abc" HIT`,
	CacheHint: `add $upstream_cache_status to the log_format in nginx.conf (e.g. log_format cdn '... "$upstream_cache_status"';)`,
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		for _, k := range sortedKeys(src.Fields) {
			if k != "pop" {
				return nil, &fieldError{key: "fields." + k, msg: fmt.Sprintf("unknown field %q; expected one of: pop", k)}
			}
		}
		return NewNginx(src.LogFormat, id, src.Fields["pop"])
	},
}

// Capabilities: the cache result is read only when the log_format logs
// $upstream_cache_status; the identity when it logs what identity names.
func (n *Nginx) Capabilities() Capabilities {
	return Capabilities{Identity: n.id.Kind != "", Cache: n.hasCache}
}
