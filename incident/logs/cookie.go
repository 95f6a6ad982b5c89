package logs

import "bytes"

// CookieValue finds cookie name in a Cookie header value ("a=1; sid=xyz; b=2")
// and returns its value, or nil. Names match exactly (case-sensitive) at a
// cookie boundary, so "xsid=1" does not match "sid".
func CookieValue(header, name []byte) []byte {
	for len(header) > 0 {
		// Skip separators and spaces.
		for len(header) > 0 && (header[0] == ' ' || header[0] == ';' || header[0] == '\t') {
			header = header[1:]
		}
		end := bytes.IndexByte(header, ';')
		pair := header
		if end >= 0 {
			pair = header[:end]
			header = header[end+1:]
		} else {
			header = nil
		}
		eq := bytes.IndexByte(pair, '=')
		if eq < 0 {
			continue
		}
		if bytes.Equal(bytes.TrimRight(pair[:eq], " "), name) {
			v := bytes.TrimSpace(pair[eq+1:])
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return nil
}

// anonymous reports whether an identity value means "nobody": empty or "-".
func anonymous(v []byte) bool {
	return len(v) == 0 || (len(v) == 1 && v[0] == '-')
}

// percentDecode decodes %XX sequences (and leaves malformed ones as they are)
// into dst, returning the extended dst. '+' is kept: CloudFront encodes a
// space as %20.
func percentDecode(dst, src []byte) []byte {
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '%' && i+2 < len(src) {
			if h, ok := unhex(src[i+1]); ok {
				if l, ok := unhex(src[i+2]); ok {
					dst = append(dst, h<<4|l)
					i += 2
					continue
				}
			}
		}
		dst = append(dst, c)
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// splitURI splits a request URI into path and query (without the '?').
func splitURI(uri []byte) (path, query []byte) {
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		return uri[:i], uri[i+1:]
	}
	return uri, nil
}
