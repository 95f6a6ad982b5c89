package textsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestTerm(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "/mypage/profile?x=1", "/mypage/profile?x=1"},
		{"unicode kept", "東京都 JP-13 café", "東京都 JP-13 café"},
		{"clear screen", "\x1b[2J/mypage", `\x1b[2J/mypage`},
		{"forged line", "a.log\nFAKE LINE", `a.log\nFAKE LINE`},
		{"carriage return", "ok\rFAIL", `ok\rFAIL`},
		{"tab", "a\tb", `a\tb`},
		{"nul and bell", "a\x00\x07", `a\x00\x07`},
		{"del", "a\x7f", `a\x7f`},
		{"c1 csi", "a\u009b2J", `a\u009b2J`},
		{"c1 nel", "a\u0085b", `a\u0085b`},
		{"bidi override", "user\u202etxt.exe", `user\u202etxt.exe`},
		{"bidi isolate", "\u2066x\u2069", `\u2066x\u2069`},
		{"bidi marks", "\u200e\u200f\u061c", `\u200e\u200f\u061c`},
		{"line separator", "a\u2028b\u2029", `a\u2028b\u2029`},
		{"invalid byte", "a\x93b", `a\x93b`},
		{"truncated utf-8", "a\xe6\x9d", `a\xe6\x9d`},
		{"backslash kept", `C:\logs`, `C:\logs`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Term(tc.in)
			if got != tc.want {
				t.Errorf("Term(%q) = %q, want %q", tc.in, got, tc.want)
			}
			assertInert(t, got, false)
		})
	}
}

func TestBlock(t *testing.T) {
	in := "line one\n\tindented\x1b[31m\r\u202e\xff\n"
	want := "line one\n\tindented\\x1b[31m\\r\\u202e\\xff\n"
	if got := Block(in); got != want {
		t.Errorf("Block(%q) = %q, want %q", in, got, want)
	}
}

func TestMD(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "US-CA", "US-CA"},
		{"pipe", "|x|", `\|x\|`},
		{"emphasis and code", "*a* _b_ `c`", "\\*a\\* \\_b\\_ \\`c\\`"},
		{"link", "[x](http://e)", `\[x\](http://e)`},
		{"raw html", "<img src=x>", `\<img src=x\>`},
		{"entity", "&#27;", `\&\#27;`},
		{"heading", "# H", `\# H`},
		{"backslash", `a\|b`, `a\\\|b`},
		{"newline", "JP\n| x | 9 |", `JP\n\| x \| 9 \|`},
		{"esc", "\x1b[2J", `\x1b\[2J`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MD(tc.in)
			if got != tc.want {
				t.Errorf("MD(%q) = %q, want %q", tc.in, got, tc.want)
			}
			assertInert(t, got, false)
			if n := unescapedPipes(got); n != 0 {
				t.Errorf("MD(%q) = %q has %d unescaped pipes", tc.in, got, n)
			}
		})
	}
}

func TestMDCodeCell(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "logs/a.log.gz", "`logs/a.log.gz`"},
		{"empty", "", ""},
		{"pipe", "a|b", "`a\\|b`"},
		{"backtick inside", "a`b", "``a`b``"},
		{"backtick run", "a``b", "```a``b```"},
		{"leading backtick", "`a", "`` `a ``"},
		{"leading space", " a", "`  a `"},
		{"newline", "a\nb", "`a\\nb`"},
		{"esc", "\x1b]0;x\x07", "`\\x1b]0;x\\x07`"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MDCodeCell(tc.in)
			if got != tc.want {
				t.Errorf("MDCodeCell(%q) = %q, want %q", tc.in, got, tc.want)
			}
			assertInert(t, got, false)
			if n := unescapedPipes(got); n != 0 {
				t.Errorf("MDCodeCell(%q) = %q has %d unescaped pipes", tc.in, got, n)
			}
		})
	}
}

// FuzzTerm: no input survives Term or MD with a control, bidi character
// or invalid byte, and clean input is returned unchanged.
func FuzzTerm(f *testing.F) {
	for _, s := range []string{"", "a", "\x1b[2J", "a\nb", "\u202e", "\xff", "|x|", "東京"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, got := range []string{Term(s), MD(s), MDCodeCell(s)} {
			assertInert(t, got, false)
		}
		assertInert(t, Block(s), true)
		if clean(s, false) && Term(s) != s {
			t.Errorf("Term(%q) = %q changed clean input", s, Term(s))
		}
	})
}

// assertInert fails when s holds anything a terminal acts on.
func assertInert(t *testing.T, s string, lines bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%q is not valid UTF-8", s)
	}
	for _, r := range s {
		if lines && (r == '\n' || r == '\t') {
			continue
		}
		if needs(r) {
			t.Errorf("%q still holds %U", s, r)
		}
	}
}

// unescapedPipes counts the pipes of s a GFM table would split a cell at.
func unescapedPipes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '|' && (i == 0 || s[i-1] != '\\') {
			n++
		}
	}
	return n + strings.Count(s, "\n")
}
