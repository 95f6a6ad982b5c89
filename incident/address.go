package incident

import (
	"fmt"
	"net/mail"
	"strings"
)

// ParseAddress validates an RFC 5322 address with an optional display name.
// Control characters (CR, LF, NUL) are rejected outright so that a value can
// never inject a header. The error does not repeat the address: it may be a
// person's.
func ParseAddress(s string) (*mail.Address, error) {
	if strings.ContainsAny(s, "\r\n\x00") {
		return nil, fmt.Errorf("the address contains a line break or NUL character")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("not a valid email address (want name@example.com or \"Name <name@example.com>\"): %v", strings.TrimPrefix(err.Error(), "mail: "))
	}
	if !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@')+1:], ".") {
		return nil, fmt.Errorf("not a valid email address: the domain has no dot")
	}
	return a, nil
}
