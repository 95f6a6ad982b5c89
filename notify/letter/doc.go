// Package letter renders the breach notice as a print-ready postal letter:
// one PDF per person (Render), or one PDF for a mailing house in which each
// letter starts on an odd page (RenderBatch). The recipient's address sits in
// the window of the envelope: DIN 5008 form B on A4, a #10 window envelope
// on US Letter (paper.go gives the numbers and where they come from).
//
// Text is set in DejaVu Sans (Latin, Greek, Cyrillic), Droid Sans Fallback
// (Han, kana, Bopomofo, CJK punctuation and fullwidth forms) and Nanum Gothic
// (Hangul: Droid Sans Fallback Full has only 3 Hangul syllables), all
// embedded as subsets. Text is split into runs by script, each font falling
// back to the others for a rune it lacks; a rune that no font has is printed
// as U+FFFD and counted in Result.Missing. Lines break at spaces in Latin and
// Korean text and between CJK characters in Chinese and Japanese, with basic
// kinsoku (no line starts with a closing bracket or stop, none ends with an
// opening bracket); an over-long word is broken between characters.
//
// # Library
//
// The PDF is written by codeberg.org/go-pdf/fpdf v0.12.0 (pure Go, the
// maintained successor of jung-kurt/gofpdf). fpdf parses every TrueType font
// it is given afresh for each document and subsets it again on output, which
// costs about 30 ms of CPU a Japanese letter with the 4 MB CJK font. So this
// package parses the fonts once (LoadFonts) and for each PDF cuts from them a
// small TrueType font holding only the glyphs that PDF uses (subset.go),
// which is what fpdf is given: a Japanese letter then takes about 6.5 ms of
// one core, an English one 4.5 ms, and a Latin-only letter never touches the
// CJK fonts. github.com/signintech/gopdf v0.33.0 was measured too: its
// FontContainer parses a font once, but a Japanese page still took 10–17 ms
// of one core and came out more than twice as large, for no gain on English
// pages; fpdf with the subsets is the clearly faster of the two, and it is
// the approved library.
//
// Output is deterministic: fixed creation and modification dates, sorted
// catalog, no document ID, and font subsets that depend on the set of runes
// alone.
package letter
