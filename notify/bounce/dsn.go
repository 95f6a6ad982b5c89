// Package bounce reads delivery status notifications (RFC 3464) from an
// mbox or .eml files and matches each failed recipient to the notice it is
// about by the original message's Message-ID, never by guessing.
package bounce

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrNotDSN is returned for a message that is not a delivery status
// notification (multipart/report; report-type=delivery-status): an
// auto-reply, a person's answer, spam. Callers skip and count it.
var ErrNotDSN = errors.New("not a delivery status notification")

// Recipient is one per-recipient group of a DSN. It holds no address: the
// Final-Recipient is read to check the group, and dropped.
type Recipient struct {
	Action string // failed, delayed, delivered, relayed or expanded
	Status string // e.g. 5.1.1
	// Diagnostic is the Diagnostic-Code with its e-mail addresses replaced
	// by "<address>", its control characters removed and its length bounded.
	Diagnostic string
}

// Failed reports whether the recipient was not (yet) delivered to: the
// message failed or is delayed.
func (r Recipient) Failed() bool { return r.Action == "failed" || r.Action == "delayed" }

// Permanent reports a permanent failure (status 5.x.x).
func (r Recipient) Permanent() bool { return strings.HasPrefix(r.Status, "5.") }

// DSN is a parsed delivery status notification.
type DSN struct {
	// MessageID is the original message's Message-ID (<...>), from its
	// copy or headers in the report; "" when the report carries none.
	MessageID  string
	Recipients []Recipient
}

// Limits on what is read of one message.
const (
	maxPart       = 1 << 20 // a delivery-status or headers part
	maxDiagnostic = 300     // bytes of a diagnostic kept
)

var (
	statusRE  = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)
	addressRE = regexp.MustCompile(`(?i)<?(?:mailto:)?[^\s<>@"(),;:\[\]]+@[^\s<>@"(),;:\[\]]+>?`)
	actions   = map[string]bool{"failed": true, "delayed": true, "delivered": true, "relayed": true, "expanded": true}
)

// Parse parses one message. It returns ErrNotDSN (wrapped) for a message
// that is not a DSN, and another error for a DSN that cannot be read.
func Parse(raw []byte) (*DSN, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read message header: %w", err)
	}
	ct := msg.Header.Get("Content-Type")
	if ct == "" {
		return nil, ErrNotDSN
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "multipart/report") {
			return nil, fmt.Errorf("Content-Type: %w", err)
		}
		return nil, ErrNotDSN
	}
	if mt != "multipart/report" || !strings.EqualFold(params["report-type"], "delivery-status") &&
		!strings.EqualFold(params["report-type"], "global-delivery-status") {
		return nil, ErrNotDSN
	}
	if params["boundary"] == "" {
		return nil, errors.New("multipart/report without a boundary")
	}
	d := &DSN{}
	seenStatus := false
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("multipart/report: %w", err)
		}
		pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			pt = "text/plain" // RFC 2046's default; a text part's type matters not
		}
		switch pt {
		case "message/delivery-status", "message/global-delivery-status":
			if seenStatus {
				continue
			}
			seenStatus = true
			body, err := readPart(p)
			if err != nil {
				return nil, fmt.Errorf("%s part: %w", pt, err)
			}
			if d.Recipients, err = parseStatus(body); err != nil {
				return nil, fmt.Errorf("%s part: %w", pt, err)
			}
		case "text/rfc822-headers", "message/rfc822", "message/global", "message/global-headers":
			if d.MessageID != "" {
				continue
			}
			body, err := readPart(p)
			if err != nil {
				return nil, fmt.Errorf("%s part: %w", pt, err)
			}
			d.MessageID = originalMessageID(body)
		}
	}
	if !seenStatus {
		return nil, errors.New("multipart/report; report-type=delivery-status without a message/delivery-status part")
	}
	return d, nil
}

// readPart reads a part's body (up to maxPart bytes: a copy of the original
// message is cut, its headers are what is needed), decoding base64 (the
// multipart reader decodes quoted-printable).
func readPart(p *multipart.Part) ([]byte, error) {
	var r io.Reader = p
	if strings.EqualFold(strings.TrimSpace(p.Header.Get("Content-Transfer-Encoding")), "base64") {
		r = base64.NewDecoder(base64.StdEncoding, newlineStripper{p})
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPart))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// newlineStripper drops CR and LF, which base64.NewDecoder only skips
// where they are whole lines of the standard's width.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	j := 0
	for _, c := range p[:k] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

// parseStatus reads the groups of a message/delivery-status body: the
// per-message fields, then one group per recipient.
func parseStatus(body []byte) ([]Recipient, error) {
	tr := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(body), strings.NewReader("\r\n\r\n"))))
	var out []Recipient
	group := 0
	for {
		h, err := tr.ReadMIMEHeader()
		if len(h) > 0 {
			group++
			if h.Get("Action") != "" || h.Get("Final-Recipient") != "" || h.Get("Original-Recipient") != "" {
				r, err := recipient(h)
				if err != nil {
					return nil, fmt.Errorf("recipient group %d: %w", len(out)+1, err)
				}
				out = append(out, r)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("group %d: %w", group+1, err)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no per-recipient fields (Final-Recipient, Action, Status)")
	}
	return out, nil
}

func recipient(h textproto.MIMEHeader) (Recipient, error) {
	if h.Get("Final-Recipient") == "" {
		return Recipient{}, errors.New("no Final-Recipient")
	}
	action := strings.ToLower(firstToken(h.Get("Action")))
	if !actions[action] {
		return Recipient{}, fmt.Errorf("Action %q: want failed, delayed, delivered, relayed or expanded", Clean(h.Get("Action")))
	}
	status := firstToken(h.Get("Status"))
	if !statusRE.MatchString(status) {
		return Recipient{}, fmt.Errorf("Status %q: want class.subject.detail, e.g. 5.1.1", Clean(h.Get("Status")))
	}
	return Recipient{Action: action, Status: status, Diagnostic: Clean(h.Get("Diagnostic-Code"))}, nil
}

func firstToken(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return strings.TrimRight(f[0], ";,")
}

// originalMessageID is the Message-ID of the original message's headers
// (the start of a message/rfc822 or text/rfc822-headers part).
func originalMessageID(b []byte) string {
	tr := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(b), strings.NewReader("\r\n\r\n"))))
	h, _ := tr.ReadMIMEHeader() // what was read before a bad line is kept
	v := strings.TrimSpace(h.Get("Message-Id"))
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return v[i : i+j+1]
		}
	}
	if v == "" || strings.ContainsAny(v, " \t<>") || !strings.Contains(v, "@") {
		return ""
	}
	return "<" + v + ">"
}

// Clean makes a diagnostic fit to store and show: e-mail addresses become
// "<address>", control characters and runs of white space one space,
// invalid UTF-8 is dropped and the result is at most maxDiagnostic bytes.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "")
	// White space first, so that an address split by a control
	// character is still one address when it is replaced.
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r) || unicode.In(r, unicode.Cf):
			return -1
		}
		return r
	}, s)
	s = addressRE.ReplaceAllString(s, "<address>")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxDiagnostic {
		cut := maxDiagnostic
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
