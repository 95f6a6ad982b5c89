package logs

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// The further fields of a logs[] entry read like its identity: whose data
// the response carried (logs[].subject, into Record.Subject) and the user
// agent (logs[].user_agent, into Record.UserAgent). Each is read by a
// second parser of the entry's own format whose identity is that field, so
// every format reads them with the machinery, and the rules, it reads the
// identity with: an absent field or "-" is empty, a field the format
// cannot have is a case-file problem on that key, a value present but
// unreadable rejects the line with a reason naming the key.

// Keys of a logs[] entry read like identity, besides identity itself.
const (
	keySubject   = "subject"
	keyUserAgent = "user_agent"
)

// An extraField is one further field: its key, and the parser of the
// entry's format that reads it as its identity.
type extraField struct {
	key string
	p   Parser
	// decode percent-decodes the value (CloudFront logs cs(User-Agent)
	// URL-encoded, a space as %20).
	decode bool
}

// withExtras is a parser that reads the further fields of its lines after
// its primary parser has accepted them. It is built only when a logs[]
// entry names a subject or a user agent: the entries without are parsed
// by their format's parser alone.
type withExtras struct {
	p      Parser
	extras []extraField
}

// newExtraFields builds the parsers of src's subject and user agent (none
// when src names neither); the error names the key it is about.
func newExtraFields(f *Format, src incident.LogSource, primary Identity) ([]extraField, string, error) {
	var extras []extraField
	for _, x := range []struct{ key, spec string }{{keySubject, src.Subject}, {keyUserAgent, src.UserAgent}} {
		if x.spec == "" {
			continue
		}
		id, err := ParseIdentity(x.spec)
		if err != nil {
			return nil, x.key, errors.New(extraMessage(x.key, x.spec, err))
		}
		p, err := f.New(extraSource(src, primary, id), id)
		if err != nil {
			return nil, x.key, errors.New(extraMessage(x.key, x.spec, err))
		}
		extras = append(extras, extraField{key: x.key, p: p, decode: x.key == keyUserAgent && f == cloudFrontFormat})
	}
	return extras, "", nil
}

// extraSource is the logs[] entry a further field's parser is built from:
// the entry itself, but that jsonl's fields.identity is the identity's
// key and not this field's, unless both are cookies (then it names the
// key of the Cookie header they are both read from).
func extraSource(src incident.LogSource, primary, id Identity) incident.LogSource {
	if _, ok := src.Fields["identity"]; ok && !(primary.Kind == "cookie" && id.Kind == "cookie") {
		src.Fields = maps.Clone(src.Fields)
		delete(src.Fields, "identity")
	}
	return src
}

// identityWord is "identity" where a format's message names the spec it
// read (identity field:NAME, identity cookie:NAME, identity remote_user,
// identity "kind", "KEY (identity)"), not fields.identity.
var identityWord = regexp.MustCompile(`(^|[^.\w])identity( (?:field:|cookie:|remote_user|")|\)|$)`)

// extraMessage words a format's error about a further field's spec as
// being about that key: "identity field:x: ..." becomes "subject
// field:x: ...", and a message that does not begin with the key is
// prefixed with it and the spec.
func extraMessage(key, spec string, err error) string {
	var fes fieldErrors
	var fe *fieldError
	msg := err.Error()
	switch {
	case errors.As(err, &fes) && len(fes) > 0:
		msg = fes[0].msg
	case errors.As(err, &fe):
		msg = fe.msg
	}
	msg = identityWord.ReplaceAllString(msg, "${1}"+key+"${2}")
	if !strings.HasPrefix(msg, key+" ") {
		msg = key + " " + spec + ": " + msg
	}
	return msg
}

// wrapExtras wraps p to read the extras too (p itself when there are
// none). A format with header lines stays one: its headers go to every
// parser.
func wrapExtras(p Parser, extras []extraField) Parser {
	if len(extras) == 0 {
		return p
	}
	w := &withExtras{p: p, extras: extras}
	if hp, ok := p.(HeaderParser); ok {
		return &withExtrasHeader{withExtras: w, hp: hp}
	}
	if _, ok := p.(jsonRecordParser); ok {
		return &withExtrasJSON{w}
	}
	return w
}

// Parse implements Parser: the primary parser reads the line, then each
// further field's parser reads it again into a scratch record, of which
// only the identity is kept. Parsers may rewrite the parts of the line they
// read, in place (JSON escapes, percent-decoding, IIS's "+" in cookies), so
// each further parser reads its own copy of the line as it was; the value
// kept points into that copy, which lives as long as the record needs.
func (w *withExtras) Parse(line []byte, rec *Record) error {
	n := len(line)
	copies := make([]byte, n*len(w.extras))
	for i := range w.extras {
		copy(copies[i*n:], line)
	}
	if err := w.p.Parse(line, rec); err != nil {
		return err
	}
	var scratch Record
	for i := range w.extras {
		x := &w.extras[i]
		l := copies[i*n : (i+1)*n : (i+1)*n]
		scratch = Record{}
		if err := x.p.Parse(l, &scratch); err != nil {
			reason := err.Error()
			if pe := (*ParseError)(nil); errors.As(err, &pe) {
				reason = pe.Reason
			}
			return reject(x.key + ": " + identityWord.ReplaceAllString(reason, "${1}"+x.key+"${2}"))
		}
		v := scratch.Identity
		if len(v) == 0 {
			v = nil
		} else if x.decode {
			v = decodeInPlace(v) // in this field's own copy
		}
		switch x.key {
		case keySubject:
			rec.Subject = v
		case keyUserAgent:
			rec.UserAgent = v
		}
	}
	return nil
}

// Capabilities are the primary parser's.
func (w *withExtras) Capabilities() Capabilities { return CapabilitiesOf(w.p) }

// withExtrasJSON keeps the primary's JSON record framing.
type withExtrasJSON struct{ *withExtras }

func (w *withExtrasJSON) jsonRecords() {}

// withExtrasHeader is withExtras for a format with header lines.
type withExtrasHeader struct {
	*withExtras
	hp HeaderParser
}

// Header implements HeaderParser: the header goes to the primary parser
// and to each further field's. A header the primary takes but a further
// field's parser cannot use (a #Fields line without that field) makes the
// lines after it unreadable: the error names the key.
func (w *withExtrasHeader) Header(line []byte) (Parser, error) {
	np, err := w.hp.Header(line)
	if err != nil || np == nil {
		return np, err
	}
	extras := make([]extraField, len(w.extras))
	for i, x := range w.extras {
		xh, ok := x.p.(HeaderParser)
		if !ok { // not reached: the same format
			extras[i] = x
			continue
		}
		xp, err := xh.Header(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %s", x.key, identityWord.ReplaceAllString(err.Error(), "${1}"+x.key+"${2}"))
		}
		if xp == nil {
			return nil, fmt.Errorf("%s: the header gives no parser", x.key)
		}
		extras[i] = extraField{key: x.key, p: xp, decode: x.decode}
	}
	return wrapExtras(np, extras), nil
}
