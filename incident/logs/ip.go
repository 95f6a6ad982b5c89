package logs

import (
	"bytes"
	"fmt"
)

// clientAddr checks a logged client address (nginx $remote_addr, CloudFront
// c-ip, Cloudflare ClientIP, a jsonl ip key) and returns the address
// without its port. An address is an IPv4 or IPv6 address, optionally with
// a port (203.0.113.9:51234, [2001:db8::1]:443) or in brackets
// ([2001:db8::1]); the port is dropped, so that one client is one viewer.
// Anything else (empty, "-", a host name, "unix:", garbage) rejects the
// line: a request with no client address is not evidence anyone can
// follow up. field names the field in the reason. It allocates nothing
// unless it rejects.
func clientAddr(field string, v []byte) ([]byte, error) {
	if addr, ok := splitClientAddr(v); ok {
		return addr, nil
	}
	switch {
	case anonymous(v):
		return nil, reject(fmt.Sprintf("%s is empty: a request without a client address is not accepted as evidence", field))
	case bytes.HasPrefix(v, []byte("unix:")):
		return nil, reject(fmt.Sprintf("%s %q is a unix socket, not a client IP address (log the client's address, e.g. with nginx's realip module)", field, clip(v)))
	}
	return nil, reject(fmt.Sprintf("%s %q is not an IP address", field, clip(v)))
}

// splitClientAddr returns the IP address of v (see clientAddr).
func splitClientAddr(v []byte) ([]byte, bool) {
	if len(v) > 0 && v[0] == '[' {
		end := bytes.IndexByte(v, ']')
		if end < 0 {
			return nil, false
		}
		addr, rest := v[1:end], v[end+1:]
		if !validIPv6(addr) || (len(rest) > 0 && (rest[0] != ':' || !validPort(rest[1:]))) {
			return nil, false
		}
		return addr, true
	}
	if validIPv4(v) {
		return v, true
	}
	// IPv4 with a port: one colon. An IPv6 address has at least two.
	if c := bytes.IndexByte(v, ':'); c >= 0 && bytes.IndexByte(v[c+1:], ':') < 0 {
		if validIPv4(v[:c]) && validPort(v[c+1:]) {
			return v[:c], true
		}
		return nil, false
	}
	if validIPv6(v) {
		return v, true
	}
	return nil, false
}

// validPort: 1 to 5 digits, at most 65535.
func validPort(b []byte) bool {
	if len(b) > 5 {
		return false
	}
	n, ok := digits(b)
	return ok && n <= 65535
}

// validIPv4 accepts dotted-quad IPv4 as net/netip.ParseAddr does: four
// decimal fields of at most 255, no leading zeros.
func validIPv4(b []byte) bool {
	fields, val, n := 0, 0, 0 // n: digits of the current field
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case '0' <= c && c <= '9':
			if n == 1 && val == 0 {
				return false // leading zero
			}
			val = val*10 + int(c-'0')
			n++
			if val > 255 {
				return false
			}
		case c == '.':
			if n == 0 || fields == 3 {
				return false
			}
			fields++
			val, n = 0, 0
		default:
			return false
		}
	}
	return fields == 3 && n > 0
}

// validIPv6 accepts IPv6 text as net/netip.ParseAddr does, without a zone:
// up to eight groups of one to four hex digits, at most one "::" standing
// for at least one zero group, and an optional IPv4 address in place of
// the last two groups.
func validIPv6(s []byte) bool {
	groups, ellipsis := 0, -1
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis, s = 0, s[2:]
		if len(s) == 0 {
			return true // "::"
		}
	}
	for groups < 8 {
		off := 0
		for off < len(s) && off <= 4 && isHex[s[off]] {
			off++
		}
		if off == 0 || off > 4 {
			return false
		}
		if off < len(s) && s[off] == '.' {
			// An IPv4 address ends it, in place of the last two groups.
			if (ellipsis < 0 && groups != 6) || groups+2 > 8 || !validIPv4(s) {
				return false
			}
			groups += 2
			s = nil
			break
		}
		groups++
		s = s[off:]
		if len(s) == 0 {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis >= 0 {
				return false // a second "::"
			}
			ellipsis, s = groups, s[1:]
			if len(s) == 0 {
				break
			}
		}
	}
	if len(s) != 0 {
		return false
	}
	if groups < 8 {
		return ellipsis >= 0
	}
	return ellipsis < 0
}

// isHex says which bytes are hex digits.
var isHex = [256]bool{
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true,
}
