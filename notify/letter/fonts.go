package letter

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"unicode"
)

// The font files, their default directory and the Debian package that
// installs each; LoadFonts looks for the same file names in another
// directory when asked.
var fontFiles = [numFonts]struct {
	dir, name, pkg string
}{
	fontRegular: {"/usr/share/fonts/truetype/dejavu", "DejaVuSans.ttf", "fonts-dejavu-core"},
	fontBold:    {"/usr/share/fonts/truetype/dejavu", "DejaVuSans-Bold.ttf", "fonts-dejavu-core"},
	fontCJK:     {"/usr/share/fonts/truetype/droid", "DroidSansFallbackFull.ttf", "fonts-droid-fallback"},
	fontHangul:  {"/usr/share/fonts/truetype/nanum", "NanumGothic.ttf", "fonts-nanum"},
}

// fontID names one of the three faces a letter is set in.
type fontID uint8

const (
	fontRegular fontID = iota // DejaVu Sans: Latin, Greek, Cyrillic and most symbols
	fontBold                  // DejaVu Sans Bold: the subject and the sender's name
	fontCJK                   // Droid Sans Fallback: Han, kana, Bopomofo, CJK punctuation
	fontHangul                // Nanum Gothic: Hangul, which Droid Sans Fallback Full lacks
	numFonts
)

// pdfFamily and pdfStyle are the names under which a face is registered
// with fpdf.
func (id fontID) pdfFamily() string {
	switch id {
	case fontCJK:
		return "droidsans"
	case fontHangul:
		return "nanumgothic"
	}
	return "dejavusans"
}

// hasBold tells whether the face has a bold cut; the others are made bold
// with a stroke.
func (id fontID) hasBold() bool { return id == fontRegular || id == fontBold }

func (id fontID) pdfStyle() string {
	if id == fontBold {
		return "B"
	}
	return ""
}

// Fonts holds the parsed faces a letter is set in. It is built once by
// LoadFonts, never changed after, and safe for concurrent use.
type Fonts struct {
	faces [numFonts]*face
	// subst replaces a rune that no face has: U+FFFD when DejaVu has it,
	// else '?'.
	subst rune
}

// LoadFonts reads and parses the three font files from dir, or from their
// Debian locations when dir is "". A missing file is a one-line error that
// names the file and the package that installs it.
func LoadFonts(dir string) (*Fonts, error) {
	f := &Fonts{}
	for id, ff := range fontFiles {
		d := ff.dir
		if dir != "" {
			d = dir
		}
		path := filepath.Join(d, ff.name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("letter fonts: %s: no such file (apt-get install %s, or set --fonts DIR)", path, ff.pkg)
		}
		if err != nil {
			return nil, fmt.Errorf("letter fonts: %w", err)
		}
		fc, err := parseFace(data)
		if err != nil {
			return nil, fmt.Errorf("letter fonts: %s: %w", path, err)
		}
		f.faces[id] = fc
	}
	f.subst = '?'
	if f.faces[fontRegular].has(unicode.ReplacementChar) {
		f.subst = unicode.ReplacementChar
	}
	return f, nil
}

// glyph is one rune as it is set: the face that draws it and its advance
// in thousandths of the font size.
type glyph struct {
	r    rune
	font fontID
	w    float64
}

// isCJK tells whether r belongs to a script set in a CJK face: Han,
// Hiragana, Katakana, Hangul, Bopomofo, CJK symbols and punctuation
// (U+3000–303F) and the halfwidth and fullwidth forms (U+FF00–FFEF).
func isCJK(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r >= 0x3000 && r <= 0x303F, r >= 0xFF00 && r <= 0xFFEF:
		return true
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul, unicode.Bopomofo)
}

// shape maps each rune of s to a face: Hangul to Nanum Gothic, the other
// CJK scripts to Droid Sans Fallback, everything else to DejaVu (bold when
// asked), each falling back to the others when its first choice lacks the
// glyph. A rune no face has (or that
// the PDF encoding cannot carry: beyond the BMP, or a control character)
// becomes f.subst and is counted in missing. Tabs become spaces.
func (f *Fonts) shape(dst []glyph, s string, bold bool) (gs []glyph, missing int) {
	latin := fontRegular
	if bold {
		latin = fontBold
	}
	for _, r := range s {
		if r == '\t' {
			r = ' '
		}
		order := [...]fontID{latin, fontRegular, fontCJK, fontHangul}
		switch {
		case unicode.Is(unicode.Hangul, r):
			order = [...]fontID{fontHangul, fontCJK, latin, fontRegular}
		case isCJK(r):
			order = [...]fontID{fontCJK, fontHangul, latin, fontRegular}
		}
		id, ok := fontID(0), false
		if !unicode.IsControl(r) {
			for _, c := range order {
				if f.faces[c].has(r) {
					id, ok = c, true
					break
				}
			}
		}
		if !ok {
			missing++
			r, id = f.subst, fontRegular
			if !f.faces[id].has(r) { // DejaVu lacks U+FFFD: '?' it has
				id = latin
			}
		}
		dst = append(dst, glyph{r: r, font: id, w: f.faces[id].width(r)})
	}
	return dst, missing
}

// width is the advance of a shaped string in thousandths of the font size.
func width(gs []glyph) float64 {
	var w float64
	for _, g := range gs {
		w += g.w
	}
	return w
}

// face is a parsed TrueType font: the tables a subset is cut from, the
// character map of the Basic Multilingual Plane and the advance widths.
type face struct {
	tables    map[string][]byte
	upem      float64
	numGlyphs int
	numHM     int      // number of long horizontal metrics in hmtx
	loca      []uint32 // numGlyphs+1 offsets into glyf
	cmap      []uint16 // BMP code point -> glyph id, 0 when absent
	adv       []uint16 // advance width per glyph, in font units
	lsb       []int16  // left side bearing per glyph
}

// has tells whether the face draws r. Only the BMP counts: fpdf encodes
// text as one 16-bit code per rune.
func (fc *face) has(r rune) bool {
	return r >= 0 && r < 0xFFFF && fc.cmap[r] != 0
}

// width is r's advance in thousandths of the font size, rounded as fpdf
// rounds the widths it writes into the PDF, so that layout and viewer agree.
func (fc *face) width(r rune) float64 {
	if !fc.has(r) {
		return 0
	}
	return math.Round(1000.0 / fc.upem * float64(fc.adv[fc.cmap[r]]))
}

var errFont = errors.New("not a usable TrueType font")

// parseFace reads the tables of a TrueType (glyf-outline) font.
func parseFace(data []byte) (*face, error) {
	if len(data) < 12 {
		return nil, errFont
	}
	if v := be32(data, 0); v != 0x00010000 && v != 0x74727565 { // 1.0 or 'true'
		return nil, fmt.Errorf("%w: sfnt version %#x", errFont, v)
	}
	n := int(be16(data, 4))
	if len(data) < 12+16*n {
		return nil, fmt.Errorf("%w: truncated table directory", errFont)
	}
	fc := &face{tables: make(map[string][]byte, n)}
	for i := range n {
		rec := data[12+16*i:]
		tag := string(rec[:4])
		off, length := int(be32(rec, 8)), int(be32(rec, 12))
		if off < 0 || length < 0 || off+length > len(data) || off+length < off {
			return nil, fmt.Errorf("%w: table %q out of bounds", errFont, tag)
		}
		fc.tables[tag] = data[off : off+length : off+length]
	}
	for _, tag := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"} {
		if fc.tables[tag] == nil {
			return nil, fmt.Errorf("%w: no %q table", errFont, tag)
		}
	}
	head, hhea, maxp := fc.tables["head"], fc.tables["hhea"], fc.tables["maxp"]
	if len(head) < 54 || len(hhea) < 36 || len(maxp) < 6 {
		return nil, fmt.Errorf("%w: short head, hhea or maxp", errFont)
	}
	fc.upem = float64(be16(head, 18))
	if fc.upem == 0 {
		return nil, fmt.Errorf("%w: unitsPerEm is 0", errFont)
	}
	fc.numGlyphs = int(be16(maxp, 4))
	fc.numHM = int(be16(hhea, 34))
	if fc.numGlyphs == 0 || fc.numHM == 0 || fc.numHM > fc.numGlyphs {
		return nil, fmt.Errorf("%w: %d glyphs, %d metrics", errFont, fc.numGlyphs, fc.numHM)
	}
	if err := fc.parseLoca(int16(be16(head, 50))); err != nil {
		return nil, err
	}
	if err := fc.parseHmtx(); err != nil {
		return nil, err
	}
	if err := fc.parseCmap(); err != nil {
		return nil, err
	}
	return fc, nil
}

func (fc *face) parseLoca(format int16) error {
	loca, glyf := fc.tables["loca"], fc.tables["glyf"]
	fc.loca = make([]uint32, fc.numGlyphs+1)
	for i := range fc.loca {
		var off uint32
		switch {
		case format == 0 && 2*i+2 <= len(loca):
			off = 2 * uint32(be16(loca, 2*i))
		case format == 1 && 4*i+4 <= len(loca):
			off = be32(loca, 4*i)
		default:
			return fmt.Errorf("%w: loca format %d, %d bytes for %d glyphs", errFont, format, len(loca), fc.numGlyphs)
		}
		if int64(off) > int64(len(glyf)) || (i > 0 && off < fc.loca[i-1]) {
			return fmt.Errorf("%w: glyph %d offset out of order", errFont, i)
		}
		fc.loca[i] = off
	}
	return nil
}

func (fc *face) parseHmtx() error {
	hmtx := fc.tables["hmtx"]
	if len(hmtx) < 4*fc.numHM+2*(fc.numGlyphs-fc.numHM) {
		return fmt.Errorf("%w: short hmtx", errFont)
	}
	fc.adv = make([]uint16, fc.numGlyphs)
	fc.lsb = make([]int16, fc.numGlyphs)
	for g := range fc.numGlyphs {
		if g < fc.numHM {
			fc.adv[g], fc.lsb[g] = be16(hmtx, 4*g), int16(be16(hmtx, 4*g+2))
		} else {
			fc.adv[g] = fc.adv[fc.numHM-1]
			fc.lsb[g] = int16(be16(hmtx, 4*fc.numHM+2*(g-fc.numHM)))
		}
	}
	return nil
}

// parseCmap fills the BMP character map from the best Unicode subtable:
// format 12 (full repertoire) when there is one, else format 4.
func (fc *face) parseCmap() error {
	cm := fc.tables["cmap"]
	if len(cm) < 4 {
		return fmt.Errorf("%w: short cmap", errFont)
	}
	var best []byte
	bestFormat := uint16(0)
	for i := range int(be16(cm, 2)) {
		if 4+8*i+8 > len(cm) {
			return fmt.Errorf("%w: short cmap", errFont)
		}
		platform, encoding, off := be16(cm, 4+8*i), be16(cm, 4+8*i+2), int(be32(cm, 4+8*i+4))
		if !(platform == 0 || platform == 3 && (encoding == 1 || encoding == 10)) || off+4 > len(cm) {
			continue
		}
		sub := cm[off:]
		if format := be16(sub, 0); (format == 4 || format == 12) && format > bestFormat {
			best, bestFormat = sub, format
		}
	}
	fc.cmap = make([]uint16, 0x10000)
	set := func(c, g uint32) {
		if c < 0xFFFF && g < uint32(fc.numGlyphs) {
			fc.cmap[c] = uint16(g)
		}
	}
	switch bestFormat {
	case 4:
		if len(best) < 14 {
			return fmt.Errorf("%w: short cmap format 4", errFont)
		}
		segs := int(be16(best, 6)) / 2
		if len(best) < 16+8*segs {
			return fmt.Errorf("%w: short cmap format 4", errFont)
		}
		ends, starts, deltas, ros := 14, 16+2*segs, 16+4*segs, 16+6*segs
		for s := range segs {
			end, start := uint32(be16(best, ends+2*s)), uint32(be16(best, starts+2*s))
			delta, ro := uint32(be16(best, deltas+2*s)), int(be16(best, ros+2*s))
			for c := start; c <= end && c < 0xFFFF; c++ {
				if ro == 0 {
					set(c, (c+delta)&0xFFFF)
					continue
				}
				p := ros + 2*s + ro + 2*int(c-start)
				if p+2 > len(best) {
					break
				}
				if g := uint32(be16(best, p)); g != 0 {
					set(c, (g+delta)&0xFFFF)
				}
			}
		}
	case 12:
		if len(best) < 16 {
			return fmt.Errorf("%w: short cmap format 12", errFont)
		}
		n := int(be32(best, 12))
		if n < 0 || len(best) < 16+12*n {
			return fmt.Errorf("%w: short cmap format 12", errFont)
		}
		for i := range n {
			start, end, g := be32(best, 16+12*i), be32(best, 16+12*i+4), be32(best, 16+12*i+8)
			for c := start; c <= end && c < 0xFFFF; c++ {
				set(c, g+c-start)
			}
		}
	default:
		return fmt.Errorf("%w: no Unicode cmap (format 4 or 12)", errFont)
	}
	return nil
}

func be16(b []byte, off int) uint16 { return uint16(b[off])<<8 | uint16(b[off+1]) }
func be32(b []byte, off int) uint32 {
	return uint32(b[off])<<24 | uint32(b[off+1])<<16 | uint32(b[off+2])<<8 | uint32(b[off+3])
}
