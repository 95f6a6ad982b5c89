package incident

import (
	"fmt"
	"regexp"
	"strings"
)

// RouteMatcher decides whether a request path is one of a private route's pages.
type RouteMatcher struct {
	exact  string
	prefix string
	re     *regexp.Regexp
}

// CompileRoute compiles a route's match: an exact path ("/mypage/profile"),
// a prefix ending in "*" ("/mypage/bank*"), or a regular expression after
// "re:" ("re:^/users/[0-9]+/card$").
func CompileRoute(match string) (*RouteMatcher, error) {
	switch {
	case match == "":
		return nil, fmt.Errorf("required: a path (/mypage/profile), a prefix (/mypage/bank*) or re:REGEXP")
	case strings.HasPrefix(match, "re:"):
		re, err := regexp.Compile(match[3:])
		if err != nil {
			return nil, fmt.Errorf("%q is not a valid regular expression: %v", match[3:], err)
		}
		return &RouteMatcher{re: re}, nil
	case !strings.HasPrefix(match, "/"):
		return nil, fmt.Errorf("%q must start with / (a path), or with re: (a regular expression)", match)
	case strings.Contains(strings.TrimSuffix(match, "*"), "*"):
		return nil, fmt.Errorf("%q: * is only allowed at the end (a prefix); use re: for anything else", match)
	case strings.HasSuffix(match, "*"):
		return &RouteMatcher{prefix: strings.TrimSuffix(match, "*")}, nil
	}
	return &RouteMatcher{exact: match}, nil
}

// Prefix returns what every path the route matches begins with, and false
// for a regular expression (a match may begin anywhere).
func (m *RouteMatcher) Prefix() (string, bool) {
	switch {
	case m.re != nil:
		return "", false
	case m.prefix != "":
		return m.prefix, true
	}
	return m.exact, true
}

// Gate returns what every path the route matches begins with: the path or
// prefix, the literal start of a regular expression anchored with ^, else
// "". It only turns paths away early; Match decides.
func (m *RouteMatcher) Gate() string {
	if m.re != nil {
		if !strings.HasPrefix(m.re.String(), "^") {
			return ""
		}
		lp, _ := m.re.LiteralPrefix()
		return lp
	}
	p, _ := m.Prefix()
	return p
}

// Match reports whether path (without the query) belongs to the route.
func (m *RouteMatcher) Match(path string) bool {
	switch {
	case m.re != nil:
		return m.re.MatchString(path)
	case m.prefix != "":
		return strings.HasPrefix(path, m.prefix)
	}
	return path == m.exact
}

// MatchBytes is Match for a byte slice, without allocating.
func (m *RouteMatcher) MatchBytes(path []byte) bool {
	switch {
	case m.re != nil:
		return m.re.Match(path)
	case m.prefix != "":
		return len(path) >= len(m.prefix) && string(path[:len(m.prefix)]) == m.prefix
	}
	return string(path) == m.exact
}
