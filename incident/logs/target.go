package logs

import "fmt"

// splitTarget reads a request target as logged — "/path?query", or a full
// URL "https://host:443/path?query" (AWS ALB, Google Cloud, Azure Front
// Door log those) — into rec.Path and rec.Query, and the URL's host into
// rec.Host when the line gave none (the host without its port, as a Host
// header usually is). A target that is neither (no leading '/', "*",
// "host/path") rejects the line: read as a path, it would match no route,
// and every request would silently look public.
func splitTarget(uri []byte, rec *Record) error {
	if len(uri) > 0 && uri[0] == '/' && !(len(uri) > 1 && uri[1] == '/') {
		rec.Path, rec.Query = splitURI(uri)
		return nil
	}
	rest, ok := cutScheme(uri)
	if !ok {
		return reject(fmt.Sprintf("request target %q is neither a path beginning with / nor a full URL", clip(uri)))
	}
	// Authority: up to the first '/', '?' or '#'.
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' || c == '#' {
			end = i
			break
		}
	}
	host := rest[:end]
	for i := len(host) - 1; i >= 0; i-- { // drop user info
		if host[i] == '@' {
			host = host[i+1:]
			break
		}
	}
	host = dropPort(host)
	if len(host) == 0 {
		return reject(fmt.Sprintf("URL %q has no host", clip(uri)))
	}
	if len(rec.Host) == 0 {
		rec.Host = host
	}
	rest = rest[end:]
	switch {
	case len(rest) == 0:
		rec.Path, rec.Query = slashPath, nil
	case rest[0] == '?':
		rec.Path, rec.Query = slashPath, rest[1:]
	case rest[0] == '#':
		rec.Path, rec.Query = slashPath, nil
	default:
		rec.Path, rec.Query = splitURI(rest)
	}
	return nil
}

var slashPath = []byte("/")

// cutScheme strips "http://", "https://" (any case) or a scheme-relative
// "//" from the start of a URL.
func cutScheme(b []byte) ([]byte, bool) {
	if len(b) >= 2 && b[0] == '/' && b[1] == '/' {
		return b[2:], true
	}
	for _, s := range [...]string{"http://", "https://"} {
		if len(b) >= len(s) && equalFoldASCII(b[:len(s)], s) {
			return b[len(s):], true
		}
	}
	return nil, false
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// dropPort removes ":port" from a host (and the brackets of "[v6]:port").
func dropPort(h []byte) []byte {
	if len(h) > 0 && h[0] == '[' {
		for i := range h {
			if h[i] == ']' {
				return h[1:i]
			}
		}
		return h
	}
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			for _, c := range h[i+1:] {
				if c < '0' || c > '9' {
					return h
				}
			}
			return h[:i]
		}
	}
	return h
}
