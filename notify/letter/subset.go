package letter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrTooManyGlyphs is a PDF (a large batch, say) that uses more distinct
// characters of one font than a font subset's character map can hold.
var ErrTooManyGlyphs = errors.New("too many distinct characters")

// subset cuts from the face a small TrueType font holding only the glyphs
// of runes (and the glyphs their composite glyphs are built from), with
// glyph 0 first. fpdf then parses that small font instead of the whole
// face: this is what keeps a letter fast, because fpdf parses every font it
// is given afresh for every document, and the CJK face is 4 MB.
//
// runes must be in the face (has) and sorted; glyph ids are renumbered in
// the order of the original ids, so the result depends on the set alone.
func (fc *face) subset(runes []rune) ([]byte, error) {
	glyf := fc.tables["glyf"]
	newID := map[uint16]uint16{0: 0}
	olds := []uint16{0}
	for _, r := range runes {
		g := fc.cmap[r]
		if _, ok := newID[g]; !ok {
			newID[g] = 0
			olds = append(olds, g)
		}
	}
	// Add the components of composite glyphs, and theirs.
	for i := 0; i < len(olds); i++ {
		err := fc.components(olds[i], func(c uint16) {
			if _, ok := newID[c]; !ok {
				newID[c] = 0
				olds = append(olds, c)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(olds)
	for i, g := range olds {
		newID[g] = uint16(i)
	}

	n := len(olds)
	var glyfOut []byte
	loca := make([]byte, 0, 4*(n+1))
	hmtx := make([]byte, 0, 4*n)
	for _, g := range olds {
		loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyfOut)))
		hmtx = binary.BigEndian.AppendUint16(hmtx, fc.adv[g])
		hmtx = binary.BigEndian.AppendUint16(hmtx, uint16(fc.lsb[g]))
		start := len(glyfOut)
		glyfOut = append(glyfOut, glyf[fc.loca[g]:fc.loca[g+1]]...)
		if err := rewriteComponents(glyfOut[start:], newID); err != nil {
			return nil, err
		}
		for len(glyfOut)%4 != 0 {
			glyfOut = append(glyfOut, 0)
		}
	}
	loca = binary.BigEndian.AppendUint32(loca, uint32(len(glyfOut)))

	head := slices.Clone(fc.tables["head"])
	binary.BigEndian.PutUint32(head[8:], 0)  // checkSumAdjustment: left 0, as fpdf leaves it
	binary.BigEndian.PutUint16(head[50:], 1) // indexToLocFormat: long offsets
	hhea := slices.Clone(fc.tables["hhea"])
	binary.BigEndian.PutUint16(hhea[34:], uint16(n))
	maxp := slices.Clone(fc.tables["maxp"])
	binary.BigEndian.PutUint16(maxp[4:], uint16(n))

	cmap, err := cmapFormat4(runes, func(r rune) uint16 { return newID[fc.cmap[r]] })
	if err != nil {
		return nil, err
	}
	tables := map[string][]byte{
		"cmap": cmap,
		"glyf": glyfOut,
		"head": head,
		"hhea": hhea,
		"hmtx": hmtx,
		"loca": loca,
		"maxp": maxp,
		"name": fc.shortName(),
		"post": fc.post3(),
	}
	// Hinting programs and the rest are kept as they are.
	for _, tag := range []string{"OS/2", "cvt ", "fpgm", "prep", "gasp"} {
		if t := fc.tables[tag]; t != nil {
			tables[tag] = t
		}
	}
	return assembleFont(tables), nil
}

// Composite glyph flags (TrueType glyf table).
const (
	argsAreWords    = 0x0001
	haveScale       = 0x0008
	moreComponents  = 0x0020
	haveXYScale     = 0x0040
	haveTwoByTwo    = 0x0080
	maxCompositeLen = 64 // components per glyph, far more than any font uses
)

var errGlyph = errors.New("malformed composite glyph")

// components calls add with each component glyph of glyph g (none when g
// is a simple glyph).
func (fc *face) components(g uint16, add func(uint16)) error {
	if int(g) >= fc.numGlyphs {
		return fmt.Errorf("glyph %d: %w", g, errGlyph)
	}
	data := fc.tables["glyf"][fc.loca[g]:fc.loca[g+1]]
	return walkComponents(data, func(off int) {
		c := be16(data, off)
		if int(c) < fc.numGlyphs {
			add(c)
		}
	})
}

// rewriteComponents renumbers the component glyph ids of a composite glyph
// in place.
func rewriteComponents(data []byte, newID map[uint16]uint16) error {
	return walkComponents(data, func(off int) {
		binary.BigEndian.PutUint16(data[off:], newID[be16(data, off)])
	})
}

// walkComponents calls at with the offset of each component's glyph id in
// a composite glyph's data; a simple glyph has none.
func walkComponents(data []byte, at func(off int)) error {
	if len(data) < 10 || int16(be16(data, 0)) >= 0 {
		return nil
	}
	off := 10
	for range maxCompositeLen {
		if off+4 > len(data) {
			return errGlyph
		}
		flags := be16(data, off)
		at(off + 2)
		off += 4
		if flags&argsAreWords != 0 {
			off += 4
		} else {
			off += 2
		}
		switch {
		case flags&haveScale != 0:
			off += 2
		case flags&haveXYScale != 0:
			off += 4
		case flags&haveTwoByTwo != 0:
			off += 8
		}
		if flags&moreComponents == 0 {
			return nil
		}
	}
	return errGlyph
}

// cmapFormat4 writes a cmap table with one Windows Unicode BMP subtable
// (format 4, the one fpdf reads) mapping each of the sorted runes to gid(r).
// Runs of consecutive code points with consecutive glyph ids share a
// segment.
func cmapFormat4(runes []rune, gid func(rune) uint16) ([]byte, error) {
	type seg struct {
		start, end rune
		delta      uint16
	}
	var segs []seg
	for _, r := range runes {
		g := gid(r)
		d := uint16(int(g) - int(r))
		if k := len(segs) - 1; k >= 0 && segs[k].end == r-1 && segs[k].delta == d {
			segs[k].end = r
			continue
		}
		segs = append(segs, seg{r, r, d})
	}
	segs = append(segs, seg{0xFFFF, 0xFFFF, 1})
	n := len(segs)
	length := 16 + 8*n
	if length > 0xFFFF {
		return nil, fmt.Errorf("%w for one font: %d", ErrTooManyGlyphs, len(runes))
	}
	sr, es := 1, 0
	for sr*2 <= n {
		sr *= 2
		es++
	}
	b := make([]byte, 0, 12+length)
	put := func(v ...uint16) {
		for _, x := range v {
			b = binary.BigEndian.AppendUint16(b, x)
		}
	}
	put(0, 1)                 // cmap version, one subtable
	put(3, 1, 0, 12)          // Windows, Unicode BMP, offset 12 (32 bits)
	put(4, uint16(length), 0) // format, length, language
	put(uint16(2*n), uint16(2*sr), uint16(es), uint16(2*n-2*sr))
	for _, s := range segs {
		put(uint16(s.end))
	}
	put(0) // reservedPad
	for _, s := range segs {
		put(uint16(s.start))
	}
	for _, s := range segs {
		put(s.delta)
	}
	for range segs {
		put(0) // idRangeOffset
	}
	return b, nil
}

// shortName is a name table with only the font's identification and
// copyright records (Windows, Unicode, English), which a PDF reader may
// show; the long licence and description texts are left out of every
// letter. Without such records the original table is kept.
func (fc *face) shortName() []byte {
	name := fc.tables["name"]
	if len(name) < 6 || be16(name, 0) != 0 {
		return name
	}
	count, strOff := int(be16(name, 2)), int(be16(name, 4))
	type rec struct {
		id  uint16
		str []byte
	}
	var recs []rec
	for i := range count {
		p := 6 + 12*i
		if p+12 > len(name) {
			break
		}
		platform, enc, lang, id := be16(name, p), be16(name, p+2), be16(name, p+4), be16(name, p+6)
		l, o := int(be16(name, p+8)), int(be16(name, p+10))
		if platform != 3 || enc != 1 || lang != 0x409 || id > 6 || strOff+o+l > len(name) {
			continue
		}
		recs = append(recs, rec{id, name[strOff+o : strOff+o+l]})
	}
	if len(recs) == 0 {
		return name
	}
	b := make([]byte, 0, 6+12*len(recs))
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(recs)))
	b = binary.BigEndian.AppendUint16(b, uint16(6+12*len(recs)))
	off := 0
	for _, r := range recs {
		for _, v := range []uint16{3, 1, 0x409, r.id, uint16(len(r.str)), uint16(off)} {
			b = binary.BigEndian.AppendUint16(b, v)
		}
		off += len(r.str)
	}
	for _, r := range recs {
		b = append(b, r.str...)
	}
	return b
}

// post3 is a post table of format 3 (no glyph names) with the original's
// italic angle, underline metrics and pitch.
func (fc *face) post3() []byte {
	b := make([]byte, 32)
	binary.BigEndian.PutUint32(b, 0x00030000)
	if p := fc.tables["post"]; len(p) >= 16 {
		copy(b[4:16], p[4:16])
	}
	return b
}

// assembleFont writes the table directory and the tables, sorted by tag,
// each padded to 4 bytes and with its checksum.
func assembleFont(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	size := 12 + 16*len(tables)
	for tag, t := range tables {
		tags = append(tags, tag)
		size += (len(t) + 3) &^ 3
	}
	slices.Sort(tags)
	n := len(tags)
	sr, es := 1, 0
	for sr*2 <= n {
		sr *= 2
		es++
	}
	b := make([]byte, 12+16*n, size)
	binary.BigEndian.PutUint32(b[0:], 0x00010000)
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	binary.BigEndian.PutUint16(b[6:], uint16(16*sr))
	binary.BigEndian.PutUint16(b[8:], uint16(es))
	binary.BigEndian.PutUint16(b[10:], uint16(16*n-16*sr))
	for i, tag := range tags {
		t := tables[tag]
		rec := b[12+16*i:]
		copy(rec, tag)
		binary.BigEndian.PutUint32(rec[4:], checksum(t))
		binary.BigEndian.PutUint32(rec[8:], uint32(len(b)))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(t)))
		b = append(b, t...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

func checksum(t []byte) uint32 {
	var sum uint32
	for i := 0; i < len(t); i += 4 {
		var w [4]byte
		copy(w[:], t[i:])
		sum += binary.BigEndian.Uint32(w[:])
	}
	return sum
}
