package notify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/jordan-wright/email"
)

// Header lines are folded to at most maxLine characters (RFC 5322 2.1.1's
// "SHOULD"); no line can reach the hard limit of 998.
const maxLine = 78

// build assembles the message. jordan-wright/email writes the MIME body
// (multipart/alternative, both parts UTF-8 quoted-printable); its header
// block is replaced, because it writes headers in map order (a different
// order every time), leaves Subject unfolded on one line, and uses a random
// multipart boundary. We write the headers in a fixed order, folded, and
// swap the boundary for one derived from the Message-ID.
func (r *Renderer) build(m *Message, name, subject string, text, html []byte) ([]byte, error) {
	e := &email.Email{
		From:    r.from.Address,
		To:      []string{m.To},
		Subject: subject,
		Text:    text,
		HTML:    html,
		// Set so that the library neither reads the clock nor makes up a
		// Message-Id (it would call os.Hostname for every message).
		Headers: textproto.MIMEHeader{"Message-Id": {m.MessageID}, "Date": {r.dateHeader}},
	}
	raw, err := e.Bytes()
	if err != nil {
		return nil, fmt.Errorf("mime: %w", err)
	}
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, errors.New("mime: no end of headers in the library's output")
	}
	head, body := raw[:end+2], raw[end+4:]
	old := boundaryOf(head)
	if old == "" || !bytes.Contains(head, []byte("multipart/alternative")) {
		return nil, errors.New("mime: the library did not write multipart/alternative")
	}
	// "=_" never occurs in quoted-printable text, so this boundary cannot
	// collide with a part's content.
	sum := sha256.Sum256([]byte("boundary\x00" + m.MessageID))
	tail := "_breachctl_" + hex.EncodeToString(sum[:16])
	boundary := "=" + tail
	// Searched without its "=", which is frequent in quoted-printable text.
	if bytes.Contains(body, []byte(tail)) {
		return nil, errors.New("mime: the boundary occurs in the body")
	}

	var b bytes.Buffer
	b.Grow(len(body) + 1024)
	writeHeader(&b, "Date", []string{r.dateHeader})
	writeHeader(&b, "From", addressTokens(r.from.Name, r.from.Address))
	if r.replyTo != nil {
		writeHeader(&b, "Reply-To", addressTokens(r.replyTo.Name, r.replyTo.Address))
	}
	writeHeader(&b, "To", addressTokens(name, m.To))
	writeHeader(&b, "Subject", textTokens(subject))
	writeHeader(&b, "Message-ID", []string{m.MessageID})
	if m.RefersTo != "" {
		// An update or a correction: mail clients thread it under the
		// first notice.
		writeHeader(&b, "In-Reply-To", []string{m.RefersTo})
		writeHeader(&b, "References", []string{m.RefersTo})
	}
	writeHeader(&b, "MIME-Version", []string{"1.0"})
	writeHeader(&b, "Content-Language", []string{m.Locale})
	writeHeader(&b, "Content-Type", []string{"multipart/alternative;", `boundary="` + boundary + `"`})
	b.WriteString("\r\n")
	// The old boundary only occurs in delimiter lines, after "--".
	delim := []byte("--" + old)
	for {
		i := bytes.Index(body, delim)
		if i < 0 {
			break
		}
		b.Write(body[:i+2])
		b.WriteString(boundary)
		body = body[i+len(delim):]
	}
	b.Write(body)
	return b.Bytes(), nil
}

// boundaryOf returns the boundary parameter of the header block's
// Content-Type (as jordan-wright/email writes it: unquoted).
func boundaryOf(head []byte) string {
	i := bytes.Index(head, []byte("boundary="))
	if i < 0 {
		return ""
	}
	v := head[i+len("boundary="):]
	if j := bytes.IndexAny(v, "\r\n;"); j >= 0 {
		v = v[:j]
	}
	return strings.Trim(string(v), `"`)
}

// writeHeader writes "Name: tok tok ...", folding between tokens so that
// every line stays within maxLine where a token fits; a single token longer
// than that goes on a line of its own.
func writeHeader(b *bytes.Buffer, name string, tokens []string) {
	b.WriteString(name)
	b.WriteByte(':')
	n := len(name) + 1
	for i, t := range tokens {
		if i > 0 && n+1+len(t) > maxLine || i == 0 && n+1+len(t) > maxLine && len(t)+1 <= maxLine {
			b.WriteString("\r\n")
			n = 0
		}
		b.WriteByte(' ')
		b.WriteString(t)
		n += 1 + len(t)
	}
	b.WriteString("\r\n")
}

// encodedWordBytes is how many bytes of UTF-8 go into one RFC 2047 encoded
// word: "=?UTF-8?B?" + 52 base64 characters + "?=" is 64 characters, so a
// word fits on a folded line even after "Subject: ".
const encodedWordBytes = 39

// encodedWords encodes s as RFC 2047 "B" encoded words, split between
// characters, never inside one.
func encodedWords(s string) []string {
	var out []string
	for len(s) > 0 {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n+size > encodedWordBytes {
				break
			}
			n += size
		}
		out = append(out, "=?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return out
}

// textTokens returns an unstructured header value (Subject) as foldable
// tokens: plain words when it is printable ASCII with no word too long to
// fold and nothing that looks like an encoded word, else encoded words.
func textTokens(s string) []string {
	words := strings.Fields(s)
	plain := isASCII(s) && !strings.Contains(s, "=?")
	for _, w := range words {
		if len(w) > maxLine-len("Subject: ") {
			plain = false
		}
		for i := 0; i < len(w); i++ {
			if w[i] < ' ' || w[i] == 0x7f {
				plain = false
			}
		}
	}
	if plain {
		return words
	}
	return encodedWords(strings.Join(words, " "))
}

// addressTokens returns "name <addr>" as foldable tokens: an atom-only name
// as its words, other printable ASCII as a quoted string, anything else as
// encoded words.
func addressTokens(name, addr string) []string {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		return []string{addr}
	}
	angle := "<" + addr + ">"
	var toks []string
	switch {
	case isAtomPhrase(name):
		toks = strings.Fields(name)
	case isASCII(name) && len(name) <= 60 && !strings.Contains(name, "=?") && printableASCII(name):
		q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name)
		toks = []string{`"` + q + `"`}
	default:
		toks = encodedWords(name)
	}
	return append(toks, angle)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// isAtomPhrase: words of RFC 5322 atext only, none too long to fold.
func isAtomPhrase(s string) bool {
	if strings.Contains(s, "=?") {
		return false
	}
	for _, w := range strings.Fields(s) {
		if len(w) > 60 {
			return false
		}
		for i := 0; i < len(w); i++ {
			c := w[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0) {
				return false
			}
		}
	}
	return true
}
