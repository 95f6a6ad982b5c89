package logs

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// Apache access logs, from the LogFormat string in httpd.conf, translated
// to the nginx engine's roles (nginx.go): one byte scanner for both.
//
// Followed: Apache HTTP Server 2.4 documentation, mod_log_config "Custom Log
// Formats" (the % directives, %{format}t with sec/msec/usec/msec_frac/
// usec_frac and begin:/end:, status-code conditions such as %400,501{..}i,
// the \" escapes of httpd.conf) and mod_cache "Cache Status and Logging"
// (CacheHeader on adds X-Cache: HIT / REVALIDATE / MISS; the cache-status
// environment variable holds the reason: "cache hit", "cache miss: ...",
// "conditional cache hit: ...", "cache invalidated by POST").

// Apache's predefined nicknames (the LogFormat lines of the default httpd.conf).
const (
	ApacheCommon   = `%h %l %u %t "%r" %>s %b`
	ApacheCombined = `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`
)

var apacheNicknames = map[string]string{
	"":               ApacheCombined,
	"common":         ApacheCommon,
	"combined":       ApacheCombined,
	"vhost_combined": `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`,
	"combinedio":     `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %I %O`,
}

// apacheCacheVocab: X-Cache (CacheHeader on) and the cache-status reason
// up to its ':'. MISS may be stored (FILL); an absent header means mod_cache
// did not handle the request (ORIGIN).
var apacheCacheVocab = NewVocab(
	[]string{"MISS", "cache miss", "conditional cache miss"},
	[]string{"HIT", "REVALIDATE", "cache hit", "conditional cache hit"},
	[]string{"", "cache invalidated by POST", "cache invalidated by PUT", "cache invalidated by DELETE", "cache invalidated by PATCH"},
)

var apacheFormat = &Format{
	Name:    "apache",
	Title:   "Apache httpd access log, parsed from your LogFormat (common, combined or any %-directives)",
	Vocab:   apacheCacheVocab,
	Options: []string{OptLogFormat, OptFields},
	Config: `paste the LogFormat line from httpd.conf into log_format (LogFormat "..." name, or just the format; the nicknames common and combined; default combined). ` +
		`For the cache result turn on "CacheHeader on" and log %{X-Cache}o (or log %{cache-status}e); %{msec}t or %{usec}t gives sub-second order. ` +
		`fields: {cache: DIRECTIVE} names another directive holding the cache result, {pop: DIRECTIVE} the edge, {zone: "+09:00"} the offset of a %{...}t time logged without %z. ` +
		`identity: cookie:NAME reads %{NAME}C or %{Cookie}i, field:NAME any directive (%{X-User}i or X-User), remote_user %u`,
	Example:   `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=abc" HIT`,
	CacheHint: `turn on "CacheHeader on" (mod_cache) and add %{X-Cache}o to the LogFormat in httpd.conf (or %{cache-status}e); or name the directive holding it in fields: {cache: ...}`,
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewApache(src.LogFormat, id, src.Fields)
	},
}

// NewApache compiles an Apache LogFormat. fields may name the directives
// holding the cache result (cache) and the edge (pop), and the zone of a
// strftime time logged without %z (zone).
func NewApache(format string, id Identity, fields map[string]string) (*Nginx, error) {
	return newPercent(apacheDialect, format, id, fields)
}

// A dialect is one %-directive syntax (Apache, varnishncsa).
type dialect struct {
	name      string // "LogFormat", "varnishncsa -F"
	nicknames map[string]string
	keyword   string // the config directive a user may paste whole
	// directive translates one %-directive: letter, its {argument}, and
	// its modifier ('<', '>' or 0).
	directive func(d *pctDirective) (role, error)
	// cacheArgs are the arguments recognised as the cache result unless
	// fields.cache names another directive.
	cacheArgs map[string]bool
	cacheCut  bool
	vocab     *Vocab
	expand    func(string) string // rewrites the unwrapped format (varnishncsa's default_format)
}

type pctDirective struct {
	letter byte
	arg    string
	mod    byte
	label  string
}

var apacheDialect = &dialect{
	name:      "LogFormat",
	nicknames: apacheNicknames,
	keyword:   "LogFormat",
	directive: apacheDirective,
	cacheArgs: map[string]bool{"o:x-cache": true, "o:x-cache-status": true, "e:cache-status": true},
	cacheCut:  true,
	vocab:     apacheCacheVocab,
}

// ncsaDirective maps the directives Apache's LogFormat and varnishncsa's
// -F share (%u %t %r %m %U %q %s %{NAME}i); ok is false for any other.
func ncsaDirective(d *pctDirective) (r role, ok bool, err error) {
	switch d.letter {
	case 'u':
		return roleRemoteUser, true, nil
	case 't':
		r, err = timeRole(d)
		return r, true, err
	case 'r':
		return roleRequest, true, nil
	case 'm':
		return roleMethod, true, nil
	case 'U':
		return roleURI, true, nil
	case 'q':
		return roleQueryQ, true, nil
	case 's':
		return roleStatus, true, nil
	case 'i':
		switch strings.ToLower(d.arg) {
		case "host":
			return roleHost, true, nil
		case "cookie":
			return roleCookieHeader, true, nil
		}
		return roleNone, true, nil
	}
	return roleNone, false, nil
}

// apacheDirective maps an Apache directive to its role.
func apacheDirective(d *pctDirective) (role, error) {
	if r, ok, err := ncsaDirective(d); ok {
		return r, err
	}
	switch d.letter {
	case 'h', 'a':
		return roleRemoteAddr, nil // preference among them: see newPercent
	case 'v':
		return roleServerName, nil
	case 'V':
		return roleHTTPHost, nil
	case 'o', 'e', 'C', 'x', 'n', 'l', 'b', 'B', 'D', 'T', 'H', 'A', 'f', 'k', 'L', 'p', 'P', 'R', 'X', 'I', 'O', 'S':
		return roleNone, nil
	}
	return roleNone, fmt.Errorf("%s is not an Apache LogFormat directive", d.label)
}

// timeRole maps %t and %{format}t (Apache and varnishncsa).
func timeRole(d *pctDirective) (role, error) {
	arg := strings.TrimPrefix(strings.TrimPrefix(d.arg, "begin:"), "end:")
	switch arg {
	case "":
		return roleTimeLocal, nil
	case "sec":
		return roleEpochSec, nil
	case "msec":
		return roleEpochMs, nil
	case "usec":
		return roleEpochUs, nil
	case "msec_frac", "usec_frac":
		return roleTimeFrac, nil
	}
	return roleTimeParts, nil
}

// newPercent compiles a %-directive format of dialect dl.
func newPercent(dl *dialect, format string, id Identity, fields map[string]string) (*Nginx, error) {
	for _, k := range sortedKeys(fields) {
		if k != "pop" && k != "cache" && k != "zone" {
			return nil, &fieldError{key: "fields." + k, msg: fmt.Sprintf("unknown field %q; expected one of: cache, pop, zone", k)}
		}
	}
	f, err := unwrapPercent(dl, format)
	if err != nil {
		return nil, err
	}
	if dl.expand != nil {
		f = dl.expand(f)
	}
	n := &Nginx{format: f, id: id, timeIdx: -1, vocab: dl.vocab, cacheCut: dl.cacheCut}
	if z := fields["zone"]; z != "" {
		off, ok := parseOffset([]byte(strings.TrimSpace(z)))
		if !ok {
			return nil, &fieldError{key: "fields.zone", msg: fmt.Sprintf("%q is not an offset like +09:00, -0500 or Z", z)}
		}
		n.zone, n.hasZone = off, true
	}
	lits, ds, err := splitPercent(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dl.name, err)
	}
	specs := make([]tokSpec, len(ds))
	var addrs []int
	statusIdx, finalStatus := -1, false
	for i := range ds {
		d := &ds[i]
		r, err := dl.directive(d)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dl.name, err)
		}
		s := tokSpec{name: d.label, label: d.label, role: r}
		if r == roleTimeParts {
			arg := strings.TrimPrefix(strings.TrimPrefix(d.arg, "begin:"), "end:")
			if s.layout, err = compileStrftime(arg); err != nil {
				return nil, fmt.Errorf("%s: %s: %w", dl.name, d.label, err)
			}
		}
		if r == roleTimeLocal && d.arg == "" {
			// %t is "[22/Jun/2017:09:41:00 +0900]": the brackets are literals.
			lits[i] += "["
			lits[i+1] = "]" + lits[i+1]
		}
		switch r {
		case roleRemoteAddr:
			addrs = append(addrs, i)
		case roleStatus:
			if statusIdx < 0 || (d.mod == '>' && !finalStatus) {
				statusIdx, finalStatus = i, d.mod == '>'
			}
		}
		key := string(d.letter) + ":" + strings.ToLower(d.arg)
		switch want := fields["cache"]; {
		case want != "" && directiveIs(d, want):
			s.role = roleCache
		case want == "" && dl.cacheArgs[key]:
			s.role = roleCache
		}
		if want := fields["pop"]; want != "" && directiveIs(d, want) {
			s.role = rolePop
		}
		switch id.Kind {
		case "field":
			s.ident = directiveIs(d, id.Name)
		case "cookie":
			s.ident = d.letter == 'C' && d.arg == id.Name
		}
		specs[i] = s
	}
	// One client address: %a (the client, mod_remoteip's too) before %h
	// (the remote host) before %{c}a (the peer of the connection).
	best, bestRank := -1, 9
	for _, i := range addrs {
		rank := 1
		switch {
		case ds[i].letter == 'h':
			rank = 2
		case ds[i].arg == "c":
			rank = 3
		}
		if specs[i].role == roleRemoteAddr && rank < bestRank {
			best, bestRank = i, rank
		}
	}
	for _, i := range addrs {
		if i != best && specs[i].role == roleRemoteAddr {
			specs[i].role = roleNone
		}
	}
	if best >= 0 {
		n.addrName = ds[best].label
	}
	for i := range specs {
		if specs[i].role == roleStatus && i != statusIdx {
			specs[i].role = roleNone
		}
	}
	// %U%q is the request target: one variable, as nothing separates them.
	for i := 0; i+1 < len(specs); i++ {
		if specs[i].role == roleURI && specs[i+1].role == roleQueryQ && lits[i+1] == "" {
			specs[i].role, specs[i].label, specs[i].name = roleRequestURI, specs[i].label+specs[i+1].label, specs[i].label+specs[i+1].label
			specs = append(specs[:i+1], specs[i+2:]...)
			lits = append(lits[:i+1], lits[i+2:]...)
		}
	}
	have, err := n.build(lits, specs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dl.name, err)
	}
	if n.timeIdx < 0 {
		if _, ok := have[roleTimeParts]; ok {
			return nil, fmt.Errorf("%s: the %%{...}t time has no zone (%%z): add %%z to it, or give the zone in fields: {zone: \"+09:00\"}", dl.name)
		}
		return nil, fmt.Errorf("%s has no time: it needs %%t, %%{sec}t, %%{msec}t, %%{usec}t or a %%{...}t with date, time and %%z", dl.name)
	}
	if _, ok := have[roleStatus]; !ok {
		return nil, fmt.Errorf("%s has no status: it needs %%>s (or %%s)", dl.name)
	}
	_, hasReq := have[roleRequest]
	_, hasURI := have[roleRequestURI]
	_, hasU := have[roleURI]
	if !hasReq && !hasURI && !hasU {
		return nil, fmt.Errorf("%s has no request path: it needs %%r, or %%U (with %%q)", dl.name)
	}
	switch id.Kind {
	case "remote_user":
		if _, ok := have[roleRemoteUser]; !ok {
			return nil, fmt.Errorf("identity remote_user: the %s has no %%u", dl.name)
		}
	case "cookie":
		if _, hdr := have[roleCookieHeader]; !hdr && !n.hasIdent {
			return nil, fmt.Errorf("identity cookie:%s: the %s has neither %%{%s}C nor %%{Cookie}i", id.Name, dl.name, id.Name)
		}
	case "field":
		if !n.hasIdent {
			return nil, fmt.Errorf("identity field:%s: the %s has no directive %s", id.Name, dl.name, id.Name)
		}
	}
	for _, k := range []struct {
		key  string
		role role
	}{{"pop", rolePop}, {"cache", roleCache}} {
		if want := fields[k.key]; want != "" {
			if _, ok := have[k.role]; !ok {
				return nil, &fieldError{key: "fields." + k.key, msg: fmt.Sprintf("the %s has no directive %s", dl.name, want)}
			}
		}
	}
	return n, nil
}

// directiveIs reports whether d is the directive a case file names: as
// written (%{X-User}i) or by its argument (X-User, case-insensitive).
func directiveIs(d *pctDirective, name string) bool {
	return d.label == name || (d.arg != "" && strings.EqualFold(d.arg, name))
}

// unwrapPercent turns a pasted directive (LogFormat "..." name) or a
// nickname into the format string, with httpd.conf's escapes undone.
func unwrapPercent(dl *dialect, s string) (string, error) {
	t := strings.TrimSpace(s)
	if f, ok := dl.nicknames[t]; ok {
		return f, nil
	}
	directive := false
	if len(t) >= len(dl.keyword) && strings.EqualFold(t[:len(dl.keyword)], dl.keyword) {
		directive = true
		t = strings.TrimSpace(t[len(dl.keyword):])
		if !strings.HasPrefix(t, `"`) && !strings.HasPrefix(t, `'`) {
			// LogFormat nickname-only forms are not formats.
			return "", fmt.Errorf("%s: expected a quoted format after %s", dl.name, dl.keyword)
		}
	}
	if len(t) >= 2 && (t[0] == '"' || t[0] == '\'') {
		q := t[0]
		var b strings.Builder
		for i := 1; i < len(t); i++ {
			c := t[i]
			if c == '\\' && i+1 < len(t) {
				i++
				switch t[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(t[i])
				}
				continue
			}
			if c == q {
				// Quoted whole, maybe with a nickname after it; else the
				// quote was the format's own first character.
				if rest := strings.TrimSpace(t[i+1:]); rest == "" || !strings.ContainsAny(rest, "% \t\"'") {
					return b.String(), nil
				}
				break
			}
			b.WriteByte(c)
		}
		if directive {
			return "", fmt.Errorf("%s: the quoted format is not closed", dl.name)
		}
	}
	return unescapeConf(t), nil
}

// unescapeConf undoes httpd.conf's \" \\ \t \n in a format pasted without
// its quotes.
func unescapeConf(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// splitPercent splits a %-directive format into literals and directives:
// %[<>]?[!]?[0-9,]*({arg})?[<>]?LETTER, and %% for a '%'.
func splitPercent(f string) ([]string, []pctDirective, error) {
	var lits []string
	var ds []pctDirective
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
		var d pctDirective
		for i < len(f) {
			c := f[i]
			switch {
			case c == '<' || c == '>':
				d.mod = c
			case c == '!' || c == ',' || ('0' <= c && c <= '9'):
			case c == '{':
				end := strings.IndexByte(f[i:], '}')
				if end < 0 {
					return nil, nil, fmt.Errorf("unclosed %%{ at byte %d", start)
				}
				d.arg = f[i+1 : i+end]
				i += end
			default:
				goto letter
			}
			i++
		}
	letter:
		if i >= len(f) {
			return nil, nil, fmt.Errorf("%q at the end of the format has no directive letter", f[start:])
		}
		if f[i] == '^' && i+2 < len(f) { // %{NAME}^ti, %{NAME}^to: trailers
			i += 2
		}
		d.letter = f[i]
		i++
		d.label = f[start:i]
		lits = append(lits, cur.String())
		cur.Reset()
		ds = append(ds, d)
	}
	lits = append(lits, cur.String())
	if len(ds) == 0 {
		return nil, nil, fmt.Errorf("format %q has no %%directives", f)
	}
	return lits, ds, nil
}

// timeFields says what a strftime layout gives.
type timeFields uint8

const (
	tfDate timeFields = 1 << iota
	tfClock
	tfZone
	tfEpoch
	tfFrac
)

// timeLayout is a compiled strftime format: a sequence of conversions and
// literals, parsed back without allocation.
type timeLayout struct {
	elems  []timeElem
	fields timeFields
	sample string // the layout applied to a sample time (for count)
}

type timeElem struct {
	conv byte   // 'd','m','Y','H','M','S','b','z','s','f','a'; 0 = literal
	lit  string // literal text
}

// compileStrftime compiles the strftime conversions time formats in logs
// use: %d %b %h %m %Y %H %M %S %T %F %R %z %s %a %A %%, and %f (the
// fraction of the second, as varnishncsa writes it).
func compileStrftime(f string) (*timeLayout, error) {
	l := &timeLayout{}
	var sample strings.Builder
	add := func(conv byte, fl timeFields, s string) {
		l.elems = append(l.elems, timeElem{conv: conv})
		l.fields |= fl
		sample.WriteString(s)
	}
	lit := func(s string) {
		if k := len(l.elems); k > 0 && l.elems[k-1].conv == 0 {
			l.elems[k-1].lit += s
		} else {
			l.elems = append(l.elems, timeElem{lit: s})
		}
		sample.WriteString(s)
	}
	var have [128]bool
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			lit(f[i : i+1])
			continue
		}
		i++
		if i >= len(f) {
			return nil, fmt.Errorf("strftime %q ends with %%", f)
		}
		c := f[i]
		if c < 128 {
			have[c] = true
		}
		switch c {
		case 'd':
			add('d', 0, "02")
		case 'm':
			add('m', 0, "01")
		case 'b', 'h':
			add('b', 0, "Jan")
		case 'Y':
			add('Y', 0, "2006")
		case 'H':
			add('H', 0, "15")
		case 'M':
			add('M', 0, "04")
		case 'S':
			add('S', 0, "05")
		case 'T':
			add('H', 0, "15")
			lit(":")
			add('M', 0, "04")
			lit(":")
			add('S', 0, "05")
			have['H'], have['M'], have['S'] = true, true, true
		case 'R':
			add('H', 0, "15")
			lit(":")
			add('M', 0, "04")
			have['H'], have['M'] = true, true
		case 'F':
			add('Y', 0, "2006")
			lit("-")
			add('m', 0, "01")
			lit("-")
			add('d', 0, "02")
			have['Y'], have['m'], have['d'] = true, true, true
		case 'z':
			add('z', tfZone, "+0000")
		case 's':
			add('s', tfEpoch, "1136214245")
		case 'f':
			add('f', tfFrac, "000000")
		case 'a', 'A':
			add('a', 0, "Mon")
		case '%':
			lit("%")
		default:
			return nil, fmt.Errorf("strftime conversion %%%c is not supported here; use %%d/%%b/%%Y:%%H:%%M:%%S %%z, %%F %%T, or %%{sec}t / %%{msec}t", c)
		}
	}
	if have['Y'] && (have['m'] || have['b'] || have['h']) && have['d'] {
		l.fields |= tfDate
	}
	if have['H'] && have['M'] {
		l.fields |= tfClock
	}
	l.sample = sample.String()
	return l, nil
}

// count is how many times lit occurs inside every value of the layout.
func (l *timeLayout) count(lit string) int {
	if lit == "" {
		return 0
	}
	return strings.Count(l.sample, lit)
}

// timeParts collects a time from one or more strftime values.
type timeParts struct {
	y, mo, d, hh, mi, ss int
	off                  int
	epoch                int64
	frac                 int64
	hasOff, hasEpoch     bool
	hasFrac              bool
}

// parse reads v by the layout into tp.
func (l *timeLayout) parse(v []byte, tp *timeParts) bool {
	for _, e := range l.elems {
		switch e.conv {
		case 0:
			if len(v) < len(e.lit) || string(v[:len(e.lit)]) != e.lit {
				return false
			}
			v = v[len(e.lit):]
		case 'd', 'm', 'H', 'M', 'S':
			if len(v) < 2 {
				return false
			}
			x, ok := digits(v[:2])
			if !ok {
				return false
			}
			switch e.conv {
			case 'd':
				tp.d = x
			case 'm':
				tp.mo = x
			case 'H':
				tp.hh = x
			case 'M':
				tp.mi = x
			default:
				tp.ss = x
			}
			v = v[2:]
		case 'Y':
			if len(v) < 4 {
				return false
			}
			x, ok := digits(v[:4])
			if !ok {
				return false
			}
			tp.y, v = x, v[4:]
		case 'b':
			if len(v) < 3 {
				return false
			}
			if tp.mo = monthNum(v[:3]); tp.mo == 0 {
				return false
			}
			v = v[3:]
		case 'z':
			k := 5
			switch {
			case len(v) > 0 && (v[0] == 'Z' || v[0] == 'z'):
				k = 1
			case len(v) >= 6 && v[3] == ':':
				k = 6
			}
			if len(v) < k {
				return false
			}
			off, ok := parseOffset(v[:k])
			if !ok {
				return false
			}
			tp.off, tp.hasOff, v = off, true, v[k:]
		case 's', 'f':
			k := 0
			for k < len(v) && k < 19 && '0' <= v[k] && v[k] <= '9' {
				k++
			}
			if k == 0 {
				return false
			}
			if e.conv == 's' {
				x, _ := digits(v[:k])
				tp.epoch, tp.hasEpoch = int64(x), true
			} else {
				tp.frac, _ = fraction(v[:k])
				tp.hasFrac = true
			}
			v = v[k:]
		case 'a':
			k := 0
			for k < len(v) && (('a' <= v[k] && v[k] <= 'z') || ('A' <= v[k] && v[k] <= 'Z')) {
				k++
			}
			if k == 0 {
				return false
			}
			v = v[k:]
		}
	}
	return len(v) == 0
}

// unix returns the time the parts give; zone is the offset to use when no
// part logged one.
func (tp *timeParts) unix(zone int) (ns int64, coarse, ok bool) {
	if tp.hasEpoch {
		ns = tp.epoch * 1e9
	} else {
		if !civilOK(tp.y, tp.mo, tp.d, tp.hh, tp.mi, tp.ss) {
			return 0, false, false
		}
		off := zone
		if tp.hasOff {
			off = tp.off
		}
		ns = unixNanos(tp.y, tp.mo, tp.d, tp.hh, tp.mi, tp.ss, 0, off)
	}
	return ns + tp.frac, !tp.hasFrac, true
}

// fraction reads the digits of a fraction of a second (".123" without the
// dot: 3 digits are milliseconds, 6 microseconds) as nanoseconds.
func fraction(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 30 {
		return 0, false
	}
	var f int64
	scale := int64(1e8)
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		f += int64(c-'0') * scale
		scale /= 10
	}
	return f, true
}

// parseEpochInt reads an integer Unix time: kind 's' seconds, 'M'
// milliseconds, 'U' microseconds.
func parseEpochInt(b []byte, kind byte) (ns int64, coarse, ok bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false, false
	}
	x, ok := digits(b)
	if !ok {
		return 0, false, false
	}
	switch kind {
	case 's':
		return int64(x) * 1e9, true, true
	case 'M':
		return int64(x) * 1e6, false, true
	}
	return int64(x) * 1e3, false, true
}
