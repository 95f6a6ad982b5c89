// Package textsafe makes externally controlled text safe to print: log
// fields, file names, user-record fields, SMTP replies and anything else
// breachctl did not write itself.
//
// Term is for one field of a terminal line: every byte a terminal acts on
// (C0 and C1 controls, DEL, newlines), every character that reorders the
// text around it (Unicode bidi overrides, embeddings, isolates and marks,
// line and paragraph separators) and every byte that is not UTF-8 is shown
// as a visible escape (\x1b, \n, \u202e, \x93), so a value can neither forge
// an output line nor drive the terminal, and the escape still names the
// bytes. Block is the same for a multi-line text that breachctl composed
// itself: it keeps newlines and tabs. MD and MDCode escape a value for a
// Markdown table cell or paragraph, on top of Term.
//
// A backslash is left as it is by Term: `a\x1b` in a file name and an ESC
// byte both print as \x1b. That keeps ordinary output unchanged; the JSON
// outputs carry the exact value.
package textsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Term returns s with every control character, bidi control and invalid
// UTF-8 byte replaced by a visible escape; s itself when it has none.
func Term(s string) string { return escape(s, false) }

// Block is Term for text of several lines: newlines and tabs stay, every
// other control (CR included), bidi control and invalid byte is escaped.
func Block(s string) string { return escape(s, true) }

// Terms applies Term to each element of ss (a new slice).
func Terms(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Term(s)
	}
	return out
}

// needs reports whether r (a valid rune) must be shown escaped.
func needs(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true // C0, DEL, C1
	case r == 0x061c, r == 0x200e, r == 0x200f:
		return true // Arabic letter mark, LRM, RLM
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true // bidi embeddings, overrides and isolates
	case r == 0x2028, r == 0x2029:
		return true // line and paragraph separators
	}
	return false
}

func clean(s string, keepLines bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			continue
		}
		if keepLines && (c == '\n' || c == '\t') {
			continue
		}
		if c < 0x80 {
			return false
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || needs(r) {
			return false
		}
		i += n - 1
	}
	return true
}

func escape(s string, keepLines bool) string {
	if clean(s, keepLines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && needs(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case needs(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// mdSpecial are the characters MD escapes with a backslash: those that
// start emphasis, code, links and images, raw HTML, entities, headings,
// strikethrough and table cells, and the backslash itself.
const mdSpecial = "\\`*_[]<>#|~&"

// MD escapes s for one line of Markdown: a table cell, a list item or a
// sentence of a paragraph. Markdown punctuation is backslash-escaped, so
// the value renders as the text it is (no emphasis, link, raw HTML, entity
// or extra table column), and controls and newlines are shown as by Term,
// so it stays on its line.
func MD(s string) string {
	if !strings.ContainsAny(s, mdSpecial) {
		return Term(s)
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(mdSpecial, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return Term(b.String())
}

// MDCodeCell writes s as a Markdown code span inside a table cell: the
// fence is longer than any run of backticks in s, a pipe is escaped (GFM
// splits cells before it reads code spans), and controls are shown as by
// Term. The empty string gives an empty cell.
func MDCodeCell(s string) string {
	if s == "" {
		return ""
	}
	s = strings.ReplaceAll(Term(s), "|", `\|`)
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if s[0] == '`' || s[0] == ' ' || s[len(s)-1] == '`' || s[len(s)-1] == ' ' {
		// CommonMark strips one space from each end of a span that
		// begins and ends with one: pad, so the content survives.
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
