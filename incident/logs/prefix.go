package logs

import (
	"fmt"
	"regexp"
)

// prefixed strips a case file's logs[].prefix (a regular expression
// anchored at the start of the line: a syslog header, say) before the
// format's parser sees the line. A line the prefix does not match is
// rejected: its layout is not what the case file says.
type prefixed struct {
	re *regexp.Regexp
	p  Parser
}

func withPrefix(p Parser, expr string) (Parser, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)`)
	if err != nil {
		return nil, fmt.Errorf("prefix %q is not a regular expression: %v", expr, err)
	}
	pp := &prefixed{re: re, p: p}
	if hp, ok := p.(HeaderParser); ok {
		return &prefixedHeader{prefixed: pp, hp: hp}, nil
	}
	return pp, nil
}

func (x *prefixed) Parse(line []byte, rec *Record) error {
	loc := x.re.FindIndex(line)
	if loc == nil {
		return reject("the line does not begin with the case file's prefix")
	}
	return x.p.Parse(line[loc[1]:], rec)
}

// Capabilities are the wrapped parser's.
func (x *prefixed) Capabilities() Capabilities { return CapabilitiesOf(x.p) }

type prefixedHeader struct {
	*prefixed
	hp HeaderParser
}

func (x *prefixedHeader) Header(line []byte) (Parser, error) {
	np, err := x.hp.Header(line)
	if err != nil || np == nil {
		return np, err
	}
	return &prefixed{re: x.re, p: np}, nil
}
