package letter

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fakeGlyphs sets text with round widths: CJK 1000, space 300, marks 0, the
// rest 500.
func fakeGlyphs(s string) []glyph {
	var gs []glyph
	for _, r := range s {
		w := 500.0
		switch {
		case isMark(r):
			w = 0
		case r == ' ':
			w = 300
		case isCJK(r):
			w = 1000
		}
		gs = append(gs, glyph{r: r, w: w})
	}
	return gs
}

func lineTexts(gs []glyph, spans []span) []string {
	var out []string
	for _, sp := range spans {
		var b strings.Builder
		for _, g := range gs[sp.start:sp.end] {
			b.WriteRune(g.r)
		}
		out = append(out, b.String())
	}
	return out
}

func TestWrap(t *testing.T) {
	tests := []struct {
		name   string
		locale string
		text   string
		max    float64
		want   []string
	}{
		{"spaces", "en", "aaa bbb ccc", 3500, []string{"aaa bbb", "ccc"}},
		{"spaces collapse at the break", "en", "aaa   bbb", 2000, []string{"aaa", "bbb"}},
		{"fits", "de", "Grüße", 10000, []string{"Grüße"}},
		{"long word by characters", "en", "abcdefghij", 2000, []string{"abcd", "efgh", "ij"}},
		{"hyphen", "de", "Datenschutz-Grundverordnung", 8000, []string{"Datenschutz-", "Grundverordnung"}},
		{"glyph wider than the line", "en", "ab", 100, []string{"a", "b"}},
		{"combining mark stays with its letter", "fr", "abe\u0301", 1000, []string{"ab", "e\u0301"}},
		{"cjk between any two characters", "ja", "漢字かなカナ", 4000, []string{"漢字かな", "カナ"}},
		{"no line starts with a stop", "ja", "漢字漢。", 3000, []string{"漢字", "漢。"}},
		{"no line starts with a closing bracket", "ja", "漢字「漢字」漢", 5000, []string{"漢字「漢", "字」漢"}},
		{"no line ends with an opening bracket", "ja", "漢字「漢", 3000, []string{"漢字", "「漢"}},
		{"chinese comma", "zh-Hans", "简体中文，简体", 4000, []string{"简体中", "文，简体"}},
		{"latin word in japanese", "ja", "漢字Example漢字", 5000, []string{"漢字", "Example漢", "字"}},
		{"korean at spaces", "ko", "한국어 텍스트", 3500, []string{"한국어", "텍스트"}},
		{"korean over-long word", "ko", "가나다라마바", 3000, []string{"가나다", "라마바"}},
		{"hangul keeps words in any locale", "en", "한국어 텍스트", 3500, []string{"한국어", "텍스트"}},
		{"korean keeps hanja in words", "ko", "漢字 漢字漢", 3500, []string{"漢字", "漢字漢"}},
		{"japanese breaks hanja", "ja", "漢字 漢字漢", 3500, []string{"漢字 漢", "字漢"}},
		{"empty", "en", "", 1000, nil},
		{"only spaces", "en", "   ", 1000, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gs := fakeGlyphs(tc.text)
			got := lineTexts(gs, rulesFor(tc.locale).wrap(gs, tc.max))
			if !slices.Equal(got, tc.want) {
				t.Errorf("wrap(%q, %v) = %q, want %q", tc.text, tc.max, got, tc.want)
			}
		})
	}
}

func FuzzWrap(f *testing.F) {
	for _, s := range []string{
		"We are writing to tell you about a data security incident.",
		"Sehr geehrte Frau Müller, Datenschutz-Grundverordnung äöüß é",
		"お客様の個人情報が漏洩した可能性があります。「重要」なお知らせです。",
		"개인정보 유출에 관한 안내입니다. 한국어텍스트가아주길어요",
		"简体中文，繁體中文。（括號）",
		"e\u0301\u0301 a\u20dd  😀\u200d😀 \t x",
		"",
	} {
		f.Add(s, uint16(3000), "ja")
		f.Add(s, uint16(800), "ko")
		f.Add(s, uint16(0), "en")
	}
	fonts, _ := LoadFonts("") // real widths when the fonts are here
	f.Fuzz(func(t *testing.T, s string, max uint16, locale string) {
		if !utf8.ValidString(s) {
			return
		}
		gs := fakeGlyphs(s)
		if fonts != nil {
			gs, _ = fonts.shape(nil, s, false)
		}
		checkWrap(t, gs, float64(max), rulesFor(locale))
	})
}

// checkWrap checks the properties of wrap: lines in order, nothing but the
// spaces at breaks dropped, no line starting or ending with a space, and no
// line wider than max unless it is a single glyph with its marks.
func checkWrap(t *testing.T, gs []glyph, max float64, br breakRules) {
	spans := br.wrap(gs, max)
	pos := 0
	for i, sp := range spans {
		if sp.start < pos || sp.end <= sp.start || sp.end > len(gs) {
			t.Fatalf("line %d: span %v after %d of %d glyphs", i, sp, pos, len(gs))
		}
		for _, g := range gs[pos:sp.start] {
			if g.r != ' ' {
				t.Fatalf("line %d: %q dropped before it", i, g.r)
			}
		}
		line := gs[sp.start:sp.end]
		if line[0].r == ' ' || line[len(line)-1].r == ' ' {
			t.Errorf("line %d starts or ends with a space", i)
		}
		if w := width(line); w > max {
			single := !slices.ContainsFunc(line[1:], func(g glyph) bool { return !isMark(g.r) })
			if !single {
				t.Errorf("line %d: width %v > %v and %d glyphs", i, w, max, len(line))
			}
		}
		pos = sp.end
	}
	for _, g := range gs[pos:] {
		if g.r != ' ' {
			t.Fatalf("%q dropped after the last line", g.r)
		}
	}
}
