package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/breachctl/breachctl/incident/store"
)

// hostileInput is the fixture with hostile values where the reports take
// text from outside the team: regions from the user records, evidence file
// names, and a control sequence in the case title (issue 21, finding 3).
func hostileInput(t *testing.T) Input {
	in := fixture(t)
	in.Case.Title += "\x1b[2J\u202e"
	in.Affected = join(in.Affected,
		accounts(20, levelConfirmed, "DE", "DE-BY\n## FAKE HEADING", "name"),
		accounts(600, levelConfirmed, "US", "US-TX|x|*y*\x1b[2J\nFAKE LINE", "name", "health"),
		accounts(3, levelPossible, "JP", "JP-13 | 999999 |\x93", "name"),
	)
	in.Evidence = append(in.Evidence,
		store.Evidence{Path: "logs/a|x|`b`\n# FAKE.log\x1b[2J", SHA256: "00"},
		store.Evidence{Path: "`start", SHA256: "01"})
	return in
}

// inert fails when out holds a raw control byte other than a newline, a
// bidi control, an invalid byte, or a line a value forged.
func inert(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: not valid UTF-8", what)
	}
	for _, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) {
			t.Errorf("%s: holds %U raw", what, r)
			break
		}
	}
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimLeft(line, "#> -")
		if strings.HasPrefix(l, "FAKE") {
			t.Errorf("%s: a value forged the line %q", what, line)
		}
	}
}

// cells counts the cells of a Markdown table row as GFM splits it: at
// pipes not preceded by a backslash.
func cells(row string) int {
	n := 0
	for i := 0; i < len(row); i++ {
		if row[i] == '|' && (i == 0 || row[i-1] != '\\') {
			n++
		}
	}
	return n - 1
}

func TestMarkdownReportsEscapeExternalValues(t *testing.T) {
	in := hostileInput(t)
	for _, kind := range Kinds {
		t.Run(kind, func(t *testing.T) {
			r, err := Build(kind, in)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := r.WriteMarkdown(&b); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			inert(t, kind+" md", out)
			for _, line := range strings.Split(out, "\n") {
				if strings.HasPrefix(line, "|") && cells(line) != 2 {
					t.Errorf("%s md: table row has %d cells, want 2: %q", kind, cells(line), line)
				}
			}
			wants := []string{
				`| DE-BY\n\#\# FAKE HEADING |`,
				`| US-TX\|x\|\*y\*\x1b\[2J\nFAKE LINE |`,
			}
			if len(r.Evidence) > 0 { // the public substitute notice lists no evidence file
				wants = append(wants,
					"``logs/a\\|x\\|`b`\\n# FAKE.log\\x1b[2J``", // the code span holds the name, escaped
					"`` `start ``")
			}
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("%s md lacks %q:\n%s", kind, want, out)
				}
			}
		})
	}
}

func TestObligationsTextEscapesExternalValues(t *testing.T) {
	in := hostileInput(t)
	var b bytes.Buffer
	if err := WriteObligationsText(&b, Obligations(in), in.Now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	inert(t, "obligations text", out)
	if want := `serving US-TX|X|*Y*\x1b[2J\nFAKE LINE, 45 CFR 164.406`; !strings.Contains(out, want) {
		t.Errorf("obligations text lacks %q:\n%s", want, out)
	}
}
