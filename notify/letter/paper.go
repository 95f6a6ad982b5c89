package letter

import (
	"fmt"
	"strings"
)

// Paper is a sheet size and the window envelope that goes with it.
type Paper int

const (
	// A4 is 210 × 297 mm, laid out for a DIN 5008 form B window envelope
	// (DL or C5/6).
	A4 Paper = iota
	// USLetter is 8.5 × 11 in, tri-folded into a #10 window envelope.
	USLetter
)

// ParsePaper reads "a4" or "letter" (any case).
func ParsePaper(s string) (Paper, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "a4":
		return A4, nil
	case "letter":
		return USLetter, nil
	}
	return 0, fmt.Errorf("paper %q: want a4 or letter", s)
}

// String is the name ParsePaper reads.
func (p Paper) String() string {
	switch p {
	case A4:
		return "a4"
	case USLetter:
		return "letter"
	}
	return fmt.Sprintf("Paper(%d)", int(p))
}

// Lengths are in PDF points (1/72 in) from the top left corner of the page.
const (
	pt = 1.0
	in = 72 * pt
	mm = in / 25.4
)

type rect struct{ x, y, w, h float64 }

func (r rect) bottom() float64 { return r.y + r.h }

// geometry is where everything goes on a sheet of one paper size.
type geometry struct {
	w, h float64
	// The body's text block: x from left to w-right; y from top (pages
	// after the first) to h-bottom.
	left, right, top, bottom float64
	// window is the envelope window on page 1. The return line sits in
	// its top returnH; the recipient in the rest, inset by addrInset on
	// the left and addrInsetRight on the right. When alwaysReturnZone is
	// false the return zone is kept only for a letter that has a return
	// line.
	window                    rect
	returnH                   float64
	alwaysReturnZone          bool
	addrInset, addrInsetRight float64
	// from is the box the sender block must fit in; info is where the
	// date and reference start (x, y, width).
	from             rect
	infoX, infoY     float64
	infoW            float64
	subjectY         float64 // top of the subject's first line on page 1
	folds            []float64
	punch            float64 // 0: no punch mark
	markX0, markX1   float64 // fold marks run from markX0 to markX1
	punchX1, footerY float64
}

// A4 with DIN 5008 form B: the address field is 85 × 45 mm, 20 mm from the
// left and 45 mm from the top edge; its top 17.7 mm are the zone for the
// return line, its lower 27.3 mm hold up to 9 recipient lines. The text
// starts 25 mm from the left; fold marks at 105 and 210 mm, punch mark at
// 148.5 mm. The sender block is top right, with the date and reference in
// the information block at 125 mm from the left.
var geomA4 = geometry{
	w: 210 * mm, h: 297 * mm,
	left: 25 * mm, right: 20 * mm, top: 25 * mm, bottom: 20 * mm,
	window:           rect{20 * mm, 45 * mm, 85 * mm, 45 * mm},
	returnH:          17.7 * mm,
	alwaysReturnZone: true,
	addrInset:        5 * mm, addrInsetRight: 2 * mm,
	from:  rect{125 * mm, 15 * mm, 65 * mm, 32 * mm},
	infoX: 125 * mm, infoY: 50 * mm, infoW: 65 * mm,
	subjectY: 98.5 * mm,
	folds:    []float64{105 * mm, 210 * mm},
	punch:    148.5 * mm,
	markX0:   4 * mm, markX1: 9 * mm, punchX1: 12 * mm,
	footerY: 285 * mm,
}

// US Letter in a #10 envelope (4 1/8 × 9 1/2 in) with the common window of
// 4 1/2 × 1 1/8 in, 7/8 in from the envelope's left edge and 1/2 in from
// its bottom edge (the business-envelope window position printers quote as
// standard). Tri-folded, the top third (11/3 in) rests on the envelope's
// bottom, so its top edge is 4 1/8 − 3 2/3 ≈ 0.458 in below the envelope's
// top and the window covers the page from 2.042 in to 3.167 in below the
// page top and 7/8 to 5 3/8 in from its left edge; PostalMethods'
// developer guide gives the same 2.042 in from the top for the address
// block. The address starts 1 in from the left, 1/8 in inside the window.
// Should the letter ride up to the envelope's top, the window shows the page
// from 2.5 to 3.625 in, so the subject starts at 3.7 in, below the window
// in either position (the guide suggests 3 3/8 in). The sender block is top left,
// where a double-window envelope shows it; date and reference sit right of
// the window. Fold marks at 11/3 and 22/3 in.
var geomUSLetter = geometry{
	w: 8.5 * in, h: 11 * in,
	left: 1 * in, right: 0.8 * in, top: 1 * in, bottom: 0.9 * in,
	window:    rect{0.875 * in, 2.042 * in, 4.5 * in, 1.125 * in},
	returnH:   0.25 * in,
	addrInset: 0.125 * in, addrInsetRight: 0.1 * in,
	from:  rect{1 * in, 0.5 * in, 3.5 * in, 1.45 * in},
	infoX: 5.6 * in, infoY: 2.042 * in, infoW: 2.1 * in,
	subjectY: 3.7 * in,
	folds:    []float64{11.0 / 3 * in, 22.0 / 3 * in},
	markX0:   0.15 * in, markX1: 0.35 * in,
	footerY: 10.5 * in,
}

func (p Paper) geometry() (*geometry, bool) {
	switch p {
	case A4:
		return &geomA4, true
	case USLetter:
		return &geomUSLetter, true
	}
	return nil, false
}
