package letter

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadFontsMissingFile(t *testing.T) {
	testFonts(t) // skips without the fonts, of which some are linked into temp dirs
	link := func(dir string, ids ...fontID) {
		for _, id := range ids {
			ff := fontFiles[id]
			if err := os.Symlink(filepath.Join(ff.dir, ff.name), filepath.Join(dir, ff.name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		present []fontID
		want    []string
	}{
		{"empty dir", nil, []string{"DejaVuSans.ttf: no such file", "apt-get install fonts-dejavu-core", "--fonts DIR"}},
		{"no bold", []fontID{fontRegular}, []string{"DejaVuSans-Bold.ttf: no such file", "fonts-dejavu-core"}},
		{"no cjk", []fontID{fontRegular, fontBold}, []string{"DroidSansFallbackFull.ttf: no such file", "apt-get install fonts-droid-fallback"}},
		{"no hangul", []fontID{fontRegular, fontBold, fontCJK}, []string{"NanumGothic.ttf: no such file", "apt-get install fonts-nanum"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			link(dir, tc.present...)
			_, err := LoadFonts(dir)
			if err == nil {
				t.Fatal("LoadFonts: no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error has more than one line: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q: want it to contain %q", msg, w)
				}
			}
		})
	}
	t.Run("all present", func(t *testing.T) {
		dir := t.TempDir()
		link(dir, fontRegular, fontBold, fontCJK, fontHangul)
		if _, err := LoadFonts(dir); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("not a font", func(t *testing.T) {
		dir := t.TempDir()
		link(dir, fontRegular, fontBold, fontCJK)
		if err := os.WriteFile(filepath.Join(dir, "NanumGothic.ttf"), []byte("not a font at all"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFonts(dir)
		if !errors.Is(err, errFont) {
			t.Fatalf("LoadFonts: %v, want %v", err, errFont)
		}
	})
}

func TestShape(t *testing.T) {
	f := testFonts(t)
	R, B, C, H := fontRegular, fontBold, fontCJK, fontHangul
	tests := []struct {
		name     string
		in       string
		bold     bool
		want     string
		fonts    []fontID
		wantMiss int
	}{
		{"latin", "Aé", false, "Aé", []fontID{R, R}, 0},
		{"latin bold", "Aß", true, "Aß", []fontID{B, B}, 0},
		{"greek cyrillic", "Ωж", false, "Ωж", []fontID{R, R}, 0},
		{"japanese", "漢かカ「。", false, "漢かカ「。", []fontID{C, C, C, C, C}, 0},
		{"chinese", "简體", false, "简體", []fontID{C, C}, 0},
		{"bopomofo", "ㄅ", false, "ㄅ", []fontID{C}, 0},
		{"fullwidth", "Ａ！", false, "Ａ！", []fontID{C, C}, 0},
		{"hangul", "한국", true, "한국", []fontID{H, H}, 0},
		{"mixed", "a漢 b", false, "a漢 b", []fontID{R, C, R, R}, 0},
		{"tab is a space", "a\tb", false, "a b", []fontID{R, R, R}, 0},
		{"emoji", "a😀", false, "a\uFFFD", []fontID{R, R}, 1},
		{"unassigned", "\u0378", false, "\uFFFD", []fontID{R}, 1},
		{"control", "\u0007x", false, "\uFFFDx", []fontID{R, R}, 1},
		{"noncharacter", "\uFFFF", false, "\uFFFD", []fontID{R}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gs, missing := f.shape(nil, tc.in, tc.bold)
			var got strings.Builder
			var fonts []fontID
			for _, g := range gs {
				got.WriteRune(g.r)
				fonts = append(fonts, g.font)
				if g.w <= 0 && g.r != 0x200B {
					t.Errorf("%q: width %v", g.r, g.w)
				}
			}
			if got.String() != tc.want || !slices.Equal(fonts, tc.fonts) || missing != tc.wantMiss {
				t.Errorf("shape(%q) = %q %v, %d missing; want %q %v, %d missing", tc.in, got.String(), fonts, missing, tc.want, tc.fonts, tc.wantMiss)
			}
		})
	}
}

func TestSubset(t *testing.T) {
	f := testFonts(t)
	tests := []struct {
		id   fontID
		text string
	}{
		{fontRegular, "Hello, Müller! äöüßé ÅǺ ḱ Ωж №"}, // accented letters are composite glyphs in DejaVu
		{fontBold, "Wichtig: Datenschutzverletzung"},
		{fontCJK, "漢字かなカナ「」。简體ㄅＡ"},
		{fontHangul, "한국어 개인정보"},
	}
	for _, tc := range tests {
		t.Run(tc.id.pdfFamily()+tc.id.pdfStyle(), func(t *testing.T) {
			fc := f.faces[tc.id]
			var runes []rune
			for _, r := range tc.text {
				if fc.has(r) && !slices.Contains(runes, r) {
					runes = append(runes, r)
				}
			}
			slices.Sort(runes)
			data, err := fc.subset(runes)
			if err != nil {
				t.Fatal(err)
			}
			sub, err := parseFace(data)
			if err != nil {
				t.Fatalf("parse subset: %v", err)
			}
			if sub.numGlyphs > 3*len(runes)+1 {
				t.Errorf("subset has %d glyphs for %d runes", sub.numGlyphs, len(runes))
			}
			for r := range rune(0xFFFF) {
				if sub.has(r) != slices.Contains(runes, r) {
					t.Fatalf("subset has %U: %v, want %v", r, sub.has(r), !sub.has(r))
				}
			}
			for _, r := range runes {
				if got, want := sub.width(r), fc.width(r); got != want {
					t.Errorf("%q: width %v, want %v", r, got, want)
				}
				g, og := sub.cmap[r], fc.cmap[r]
				got := sub.tables["glyf"][sub.loca[g]:sub.loca[g+1]]
				want := fc.tables["glyf"][fc.loca[og]:fc.loca[og+1]]
				if len(got) < len(want) || (len(want) > 0 && int16(be16(want, 0)) >= 0 && string(got[:len(want)]) != string(want)) {
					t.Errorf("%q: glyph outline differs from the original", r)
				}
			}
			// Every component of a composite glyph is in the subset.
			composites := 0
			for g := range sub.numGlyphs {
				err := sub.components(uint16(g), func(c uint16) { composites++ })
				if err != nil {
					t.Errorf("glyph %d: %v", g, err)
				}
			}
			if tc.id == fontRegular && composites == 0 {
				t.Error("no composite glyphs: accented letters should be composites in DejaVu")
			}
		})
	}
}

func TestParseFaceRejectsGarbage(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"otf", []byte("OTTO\x00\x00\x00\x00\x00\x00\x00\x00")},
		{"truncated directory", []byte("\x00\x01\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseFace(tc.data); !errors.Is(err, errFont) {
				t.Errorf("parseFace: %v, want %v", err, errFont)
			}
		})
	}
}
