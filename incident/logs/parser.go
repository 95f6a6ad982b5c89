package logs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/breachctl/breachctl/incident"
)

// A Parser turns one data line into a Record. Parsers are immutable and safe
// for concurrent use: all per-line state lives in the call. Parse must not
// retain line; rec's slices may point into line.
type Parser interface {
	Parse(line []byte, rec *Record) error
}

// A HeaderParser is a format whose files carry header lines starting with
// '#' (CloudFront's #Version and #Fields). The reader hands every such line to
// Header, in file order, and parses the lines after it with the Parser it
// returns. Header lines are not data lines: they are not counted.
type HeaderParser interface {
	Parser
	Header(line []byte) (Parser, error)
}

// Identity says where a request's identity is found (the case file's
// logs[].identity): a cookie, a named field, or nginx's $remote_user.
type Identity struct {
	Kind string // "cookie", "field" or "remote_user"
	Name string // cookie or field name
}

// ParseIdentity parses cookie:NAME, field:NAME or remote_user.
func ParseIdentity(s string) (Identity, error) {
	if s == "remote_user" {
		return Identity{Kind: "remote_user"}, nil
	}
	kind, name, ok := strings.Cut(s, ":")
	if !ok || name == "" || (kind != "cookie" && kind != "field") {
		return Identity{}, fmt.Errorf("identity %q: want cookie:NAME, field:NAME or remote_user", s)
	}
	return Identity{Kind: kind, Name: name}, nil
}

// NewParser builds the parser for one logs[] entry of a case file: its
// format's parser, with logs[].cache_values over the format's vocabulary,
// logs[].subject and logs[].user_agent read like the identity (extra.go)
// and logs[].prefix stripped from every line. An entry without an identity
// (Identity "") is read without one (breachctl logs parse).
func NewParser(src incident.LogSource) (Parser, error) {
	p, _, err := newParser(src)
	return p, err
}

// newParser also says which logs[] key an error is about.
func newParser(src incident.LogSource) (Parser, string, error) {
	f, ok := LookupFormat(src.Format)
	if !ok {
		return nil, "format", fmt.Errorf("%q is not a supported format; use one of %s", src.Format, strings.Join(FormatNames(), ", "))
	}
	for _, o := range []struct {
		key string
		set bool
	}{{OptLogFormat, src.LogFormat != ""}, {OptFields, len(src.Fields) > 0}, {OptTimeFormat, src.TimeFormat != ""}, {OptTimeZone, src.TimeZone != ""}} {
		if o.set && !f.accepts(o.key) {
			return nil, o.key, fmt.Errorf("format %s takes no %s; remove it", f.Name, o.key)
		}
	}
	var id Identity
	if src.Identity != "" {
		var err error
		if id, err = ParseIdentity(src.Identity); err != nil {
			return nil, "identity", err
		}
	}
	p, err := f.New(src, id)
	if err != nil {
		key := "identity"
		switch {
		case f.accepts(OptLogFormat):
			key = OptLogFormat
		case f.accepts(OptFields):
			key = OptFields
		}
		return nil, key, err
	}
	extras, key, err := newExtraFields(f, src, id)
	if err != nil {
		return nil, key, err
	}
	if len(src.CacheValues) > 0 {
		vs, ok := p.(vocabSetter)
		if !ok {
			return nil, "cache_values", fmt.Errorf("format %s cannot take cache_values", f.Name)
		}
		v, err := f.Vocab.With(src.CacheValues)
		if err != nil {
			return nil, "cache_values", err
		}
		vs.setVocab(v)
		for _, x := range extras { // they read the same lines
			if xs, ok := x.p.(vocabSetter); ok {
				xs.setVocab(v)
			}
		}
	}
	p = wrapExtras(p, extras)
	if src.Prefix != "" {
		if p, err = withPrefix(p, src.Prefix); err != nil {
			return nil, "prefix", err
		}
	}
	return p, "", nil
}

// CheckCase compiles the parser of every logs[] entry, so that a format or
// a log_format that cannot work (no time, no identity, no cache result, ...)
// is a case-file problem with its field and line, found before any file is
// read.
func CheckCase(c *incident.Case) ([]Parser, error) {
	parsers, problems := compileCase(c)
	if len(problems) > 0 {
		return nil, &incident.ValidationError{File: c.Path, Problems: problems}
	}
	return parsers, nil
}

// CaseProblems is CheckCase as an incident.CaseCheck: the problems of the
// logs[] entries, reported with the rest of the case file's.
func CaseProblems(c *incident.Case) []incident.Problem {
	_, problems := compileCase(c)
	return problems
}

// A fieldError is a problem with one key of a logs[] entry (fields.time,
// cache_values.HIT): its path is that key's, not the entry's.
type fieldError struct {
	key string // below logs[i]., e.g. "fields.time"
	msg string
}

func (e *fieldError) Error() string { return e.key + ": " + e.msg }

// fieldErrors are several at once (every required field missing).
type fieldErrors []*fieldError

func (es fieldErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

func compileCase(c *incident.Case) ([]Parser, []incident.Problem) {
	parsers := make([]Parser, len(c.Logs))
	var problems []incident.Problem
	add := func(field, msg string) {
		problems = append(problems, incident.Problem{Path: field, Line: c.LineOf(field), Msg: msg})
	}
	for i, src := range c.Logs {
		at := fmt.Sprintf("logs[%d].", i)
		if src.Format == "" {
			continue // reported by the case file's own checks
		}
		p, key, err := newParser(src)
		if err != nil {
			var fe *fieldError
			var fes fieldErrors
			switch {
			case errors.As(err, &fes):
				for _, e := range fes {
					add(at+e.key, e.msg)
				}
			case errors.As(err, &fe):
				add(at+fe.key, fe.msg)
			default:
				add(at+key, err.Error())
			}
			continue
		}
		f, _ := LookupFormat(src.Format)
		caps := CapabilitiesOf(p)
		// Only the cache rule reads the cache result.
		needCache := len(c.Exposure.Rules) == 0 || c.Exposure.CacheRule() != nil
		if !caps.Cache && needCache && !contains(src.AcceptMissing, "cache") {
			add(at+"format", fmt.Sprintf("these logs have no cache result, so every response would read as never cached and nobody as exposed: %s; "+
				"or, if the logs really cannot say, set accept_missing: [cache]", f.CacheHint))
		}
		if !caps.Identity && src.Identity != "" && !contains(src.AcceptMissing, "identity") {
			add(at+"identity", "these logs name no requester, so no cached page has an owner: log the session cookie or user id and name it in identity; "+
				"or, if the logs really cannot say, set accept_missing: [identity]")
		}
		parsers[i] = p
	}
	return parsers, problems
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
