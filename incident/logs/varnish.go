package logs

import (
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// Varnish: varnishncsa lines, from its -F format string, translated to the
// nginx engine's roles through the same %-directive reader as Apache's.
//
// Followed: the varnishncsa(1) manual (Varnish 6/7): the default format
// `%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i"`, %r synthesised
// as "METHOD http://HOST/URL PROTO", %t as [%d/%b/%Y:%T %z], %{X}t strftime,
// the \t \n escapes, and the extended variables %{Varnish:hitmiss}x ("hit"
// or "miss"; pass and pipe count as misses), %{Varnish:handling}x ("hit",
// "miss", "pass", "pipe" or "synth"; hit-for-miss and hit-for-pass objects
// are logged as "miss" and "pass"), %{Varnish:time_firstbyte}x,
// %{Varnish:side}x, %{Varnish:vxid}x, %{VCL_Log:key}x and
// %{Varnish:default_format}x.

// VarnishDefault is varnishncsa's default format.
const VarnishDefault = `%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i"`

// varnishVocab: handling and hitmiss. A pass, a pipe and a synthetic
// response are never stored; "hitmiss"/"hitpass" (some builds and
// varnishkafka name the hit-for-miss/-pass cases) are a miss that may be
// stored and a pass. "miss" from hitmiss may also be a pass: FILL, as a
// miss may be stored (never read as ORIGIN).
var varnishVocab = NewVocab(
	[]string{"miss", "hitmiss"},
	[]string{"hit"},
	[]string{"pass", "hitpass", "pipe", "synth"},
)

var varnishDialect = &dialect{
	name:      "varnishncsa format",
	nicknames: map[string]string{"": VarnishDefault, "default": VarnishDefault},
	keyword:   "varnishncsa",
	expand: func(f string) string {
		return strings.ReplaceAll(f, "%{Varnish:default_format}x", VarnishDefault)
	},
	directive: varnishDirective,
	cacheArgs: map[string]bool{"x:varnish:handling": true, "x:varnish:hitmiss": true},
	vocab:     varnishVocab,
}

func varnishDirective(d *pctDirective) (role, error) {
	if r, ok, err := ncsaDirective(d); ok {
		return r, err
	}
	switch d.letter {
	case 'h':
		return roleRemoteAddr, nil
	case 'x', 'o', 'l', 'b', 'D', 'H', 'I', 'O', 'T':
		return roleNone, nil
	}
	return roleNone, fmt.Errorf("%s is not a varnishncsa format directive", d.label)
}

var varnishFormat = &Format{
	Name:    "varnish",
	Title:   "Varnish varnishncsa lines, parsed from your -F format (default: varnishncsa's own)",
	Vocab:   varnishVocab,
	Options: []string{OptLogFormat, OptFields},
	Config: `paste the -F format of varnishncsa into log_format (default: varnishncsa's default format) and add %{Varnish:handling}x (or %{Varnish:hitmiss}x) for the cache result; ` +
		`%{msec}t or %{usec}t (Varnish 6.2 and later) orders requests within a second. ` +
		`fields: {cache: DIRECTIVE, pop: DIRECTIVE, zone: "+09:00"} as for apache. identity: cookie:NAME (%{Cookie}i), field:NAME (e.g. VCL_Log:sid for std.log("sid:" + ...)), remote_user (%u)`,
	Example:   `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET http://www.example.jp/mypage/profile HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=abc" hit`,
	CacheHint: `add %{Varnish:handling}x to the varnishncsa -F format (e.g. varnishncsa -F '%{Varnish:default_format}x %{Varnish:handling}x')`,
	New: func(src incident.LogSource, id Identity) (Parser, error) {
		return NewVarnish(src.LogFormat, id, src.Fields)
	},
}

// NewVarnish compiles a varnishncsa -F format (empty: the default).
func NewVarnish(format string, id Identity, fields map[string]string) (*Nginx, error) {
	f := strings.TrimSpace(format)
	for _, p := range []string{"varnishncsa", "-F"} {
		f = strings.TrimSpace(strings.TrimPrefix(f, p))
	}
	return newPercent(varnishDialect, f, id, fields)
}
