package logs

import (
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

// NewParser builds the parser for one logs[] entry of a case file.
func NewParser(src incident.LogSource) (Parser, error) {
	id, err := ParseIdentity(src.Identity)
	if err != nil {
		return nil, err
	}
	switch src.Format {
	case "nginx":
		return NewNginx(src.LogFormat, id, src.Fields["pop"])
	case "cloudfront":
		return NewCloudFront(id)
	case "cloudflare":
		return NewCloudflare(id)
	case "jsonl":
		return NewJSONL(src.Fields, id)
	}
	return nil, fmt.Errorf("unsupported log format %q", src.Format)
}

// CheckCase compiles the parser of every logs[] entry, so that a log_format
// that cannot work (no time, no identity, ...) is a case-file problem with
// its field and line, found before any file is read.
func CheckCase(c *incident.Case) ([]Parser, error) {
	parsers := make([]Parser, len(c.Logs))
	var problems []incident.Problem
	for i, src := range c.Logs {
		p, err := NewParser(src)
		if err != nil {
			field := fmt.Sprintf("logs[%d].identity", i)
			if src.Format == "nginx" {
				field = fmt.Sprintf("logs[%d].log_format", i)
			} else if src.Format == "jsonl" {
				field = fmt.Sprintf("logs[%d].fields", i)
			}
			problems = append(problems, incident.Problem{Path: field, Line: c.LineOf(field), Msg: err.Error()})
			continue
		}
		parsers[i] = p
	}
	if len(problems) > 0 {
		return nil, &incident.ValidationError{File: c.Path, Problems: problems}
	}
	return parsers, nil
}
