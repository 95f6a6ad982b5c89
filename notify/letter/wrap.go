package letter

import (
	"strings"
	"unicode"
)

// breakRules are the line-breaking rules of a locale.
type breakRules struct {
	// hanInWords keeps Han characters together like letters of a word
	// (Korean, where Hanja stand inside space-separated words).
	hanInWords bool
}

func rulesFor(locale string) breakRules {
	lang, _, _ := strings.Cut(strings.ToLower(locale), "-")
	return breakRules{hanInWords: lang == "ko"}
}

// Basic kinsoku shori: characters that must not start a line (closing
// brackets, stops, small kana, iteration and prolonged-sound marks) and
// characters that must not end one (opening brackets).
const (
	noStartChars = "、。，．」』）！？：；・ー々ゝゞヽヾ〕］｝〉》】〙〗〟’”｠»" +
		"ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ" +
		"!),.:;?]}"
	noEndChars = "「『（［｛〈《【〔〘〖〝‘“｟«([{"
)

func noStart(r rune) bool { return strings.ContainsRune(noStartChars, r) }
func noEnd(r rune) bool   { return strings.ContainsRune(noEndChars, r) }

// isMark tells whether r joins the glyph before it (combining marks, joiners,
// variation selectors): a line never breaks before it.
func isMark(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me) || r == 0x200D || r >= 0xFE00 && r <= 0xFE0F
}

// breaksAnywhere tells whether a line may break before or after r without a
// space: Han, kana, CJK punctuation and fullwidth forms, but not Hangul,
// which Korean separates with spaces.
func (br breakRules) breaksAnywhere(r rune) bool {
	if !isCJK(r) || unicode.Is(unicode.Hangul, r) {
		return false
	}
	return !(br.hanInWords && unicode.Is(unicode.Han, r))
}

// canBreak tells whether a line may break between gs[i-1] and gs[i].
func (br breakRules) canBreak(gs []glyph, i int) bool {
	a, b := gs[i-1].r, gs[i].r
	switch {
	case b == ' ' || isMark(b):
		return false
	case a == ' ':
		return true
	case noStart(b) || noEnd(a):
		return false
	case a == '-' && i >= 2 && unicode.IsLetter(gs[i-2].r) && unicode.IsLetter(b):
		return true // after the hyphen of a compound word
	}
	return br.breaksAnywhere(a) || br.breaksAnywhere(b)
}

// span is a line: the glyphs gs[start:end].
type span struct{ start, end int }

// wrap breaks gs into lines no wider than max (in the units of the glyph
// widths), greedily: at spaces, after hyphens, and between CJK characters
// as the rules allow. The spaces at a break are dropped; nothing else is.
// A word wider than the line is broken between glyphs (never before a
// combining mark), so a line is wider than max only when it holds a single
// glyph with its marks.
func (br breakRules) wrap(gs []glyph, max float64) []span {
	var lines []span
	pos := 0
	for {
		for pos < len(gs) && gs[pos].r == ' ' {
			pos++
		}
		if pos == len(gs) {
			return lines
		}
		w, brk, i := 0.0, -1, pos
		for ; i < len(gs); i++ {
			if i > pos && br.canBreak(gs, i) {
				brk = i
			}
			if gs[i].r != ' ' && w+gs[i].w > max {
				break
			}
			w += gs[i].w
		}
		switch {
		case i == len(gs):
			lines = append(lines, span{pos, trimSpaces(gs, pos, i)})
			return lines
		case brk > pos:
			lines = append(lines, span{pos, trimSpaces(gs, pos, brk)})
			pos = brk
		default: // no break fits: cut the word before the glyph that overflows
			end := i
			for end > pos && isMark(gs[end].r) {
				end--
			}
			if end == pos { // not even one glyph fits: it takes a line alone
				end++
				for end < len(gs) && isMark(gs[end].r) {
					end++
				}
			}
			lines = append(lines, span{pos, end})
			pos = end
		}
	}
}

func trimSpaces(gs []glyph, start, end int) int {
	for end > start && gs[end-1].r == ' ' {
		end--
	}
	return end
}
