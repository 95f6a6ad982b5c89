package letter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Type sizes and leading, in points.
const (
	bodySize, bodyLead       = 10.0, 12.5
	paragraphGap             = 0.6 * bodyLead // an empty body line
	subjectSize, subjectLead = 11.5, 15.5
	fromNameSize             = 10.0
	fromSize                 = 8.5
	dateSize                 = 10.0
	refSize                  = 8.0
	footerSize               = 8.0
	returnSize               = 7.0
	minReturnSize            = 5.0
	toMaxSize, toMaxLead     = 10.0, 12.0
	minToSize                = 6.0
	maxToLines               = 9
	bulletIndent, bulletHang = 1.5 * mm, 6 * mm
)

// Errors a letter can fail with; Render wraps them in an *Error naming the
// letter's Ref.
var (
	ErrNoRecipient  = errors.New("no recipient lines")
	ErrTooManyLines = errors.New("too many recipient lines")
	ErrDoesNotFit   = errors.New("does not fit")
	ErrUnknownPaper = errors.New("unknown paper size")
	errEmptyBatch   = errors.New("letter batch: no letters")
	errNilLetter    = errors.New("nil *Letter")
)

// A body line starting with one of these is a bullet.
var bulletPrefixes = []string{"- ", "• ", "* "}

// Error is a letter that could not be rendered. It names the letter by its
// Ref only: names and addresses never appear in errors.
type Error struct {
	Ref string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("letter %q: %v", e.Ref, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// item is a line of text on a page: its glyphs, set from the baseline
// origin (x, y) at size; bold sets CJK glyphs (which have no bold face)
// with a stroke.
type item struct {
	x, y, size float64
	bold       bool
	gs         []glyph
}

// page is one laid-out page of a letter.
type page struct {
	geo   *geometry
	items []item
}

// laidOut is a letter after layout: its pages, ready to draw, and the
// count of runes no font had.
type laidOut struct {
	pages   []page
	missing int
}

// layouter lays out one letter.
type layouter struct {
	fonts *Fonts
	geo   *geometry
	rules breakRules
	out   *laidOut
	y     float64 // top of the next line of the body on the last page
}

func (f *Fonts) layout(l *Letter) (*laidOut, error) {
	lo, err := f.layoutLetter(l)
	if err != nil {
		return nil, &Error{Ref: l.Ref, Err: err}
	}
	return lo, nil
}

func (f *Fonts) layoutLetter(l *Letter) (*laidOut, error) {
	geo, ok := l.Paper.geometry()
	if !ok {
		return nil, fmt.Errorf("%w %d", ErrUnknownPaper, int(l.Paper))
	}
	to := nonEmptyLines(l.To)
	switch {
	case len(to) == 0:
		return nil, ErrNoRecipient
	case len(to) > maxToLines:
		return nil, fmt.Errorf("%w: %d, at most %d", ErrTooManyLines, len(to), maxToLines)
	}
	ly := &layouter{fonts: f, geo: geo, rules: rulesFor(l.Locale), out: &laidOut{}}
	ly.out.pages = []page{{geo: geo}}
	if err := ly.from(nonEmptyLines(l.From)); err != nil {
		return nil, err
	}
	if err := ly.address(strings.TrimSpace(l.ReturnLine), to); err != nil {
		return nil, err
	}
	ly.info(strings.TrimSpace(l.Date), strings.TrimSpace(l.Ref))
	ly.y = geo.subjectY
	if s := strings.TrimSpace(l.Subject); s != "" {
		gs := ly.shape(s, true)
		for _, sp := range ly.rules.wrap(gs, ly.textWidth(0)*1000/subjectSize) {
			y := ly.nextLine(subjectLead)
			ly.add(item{x: geo.left, y: y + subjectSize, size: subjectSize, bold: true, gs: gs[sp.start:sp.end]})
		}
		ly.y += bodyLead / 2
	}
	ly.body(l.Body)
	ly.footers(strings.TrimSpace(l.Ref))
	return ly.out, nil
}

// nonEmptyLines splits each string at newlines and keeps the lines that are
// not blank, trimmed.
func nonEmptyLines(ss []string) []string {
	var out []string
	for _, s := range ss {
		for line := range strings.Lines(s) {
			if line = strings.TrimSpace(line); line != "" {
				out = append(out, line)
			}
		}
	}
	return out
}

func (ly *layouter) shape(s string, bold bool) []glyph {
	gs, missing := ly.fonts.shape(nil, s, bold)
	ly.out.missing += missing
	return gs
}

// add puts an item on the last page.
func (ly *layouter) add(it item) {
	p := &ly.out.pages[len(ly.out.pages)-1]
	p.items = append(p.items, it)
}

// addOn1 puts an item on page 1.
func (ly *layouter) addOn1(it item) {
	ly.out.pages[0].items = append(ly.out.pages[0].items, it)
}

func (ly *layouter) textWidth(indent float64) float64 {
	return ly.geo.w - ly.geo.left - ly.geo.right - indent
}

// nextLine returns the top of the body's next line, starting a new page
// when the line would cross the bottom margin.
func (ly *layouter) nextLine(lead float64) float64 {
	if ly.y+lead > ly.geo.h-ly.geo.bottom {
		ly.out.pages = append(ly.out.pages, page{geo: ly.geo})
		ly.y = ly.geo.top
	}
	y := ly.y
	ly.y += lead
	return y
}

// from sets the sender block in its box: the organisation's name in bold,
// then its address lines, each wrapped to the box; the type shrinks a step
// at a time until the block fits.
func (ly *layouter) from(lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	box := ly.geo.from
	shaped := make([][]glyph, len(lines))
	for i, s := range lines {
		shaped[i] = ly.shape(s, i == 0)
	}
	for step := range 4 {
		scale := 1 - 0.1*float64(step)
		var items []item
		y := box.y
		for i, gs := range shaped {
			size := fromSize * scale
			if i == 0 {
				size = fromNameSize * scale
			}
			lead := size * 1.3
			for _, sp := range ly.rules.wrap(gs, box.w*1000/size) {
				items = append(items, item{x: box.x, y: y + size, size: size, bold: i == 0, gs: gs[sp.start:sp.end]})
				y += lead
			}
		}
		if y <= box.bottom() {
			for _, it := range items {
				ly.addOn1(it)
			}
			return nil
		}
	}
	return fmt.Errorf("sender block: %w in its %.0f × %.0f mm box", ErrDoesNotFit, box.w/mm, box.h/mm)
}

// address sets the return line and the recipient in the envelope window.
func (ly *layouter) address(ret string, to []string) error {
	g := ly.geo
	x := g.window.x + g.addrInset
	avail := g.window.w - g.addrInset - g.addrInsetRight
	zone := g.window
	if ret != "" || g.alwaysReturnZone {
		zone.y += g.returnH
		zone.h -= g.returnH
	}
	if ret != "" {
		gs := ly.shape(ret, false)
		size := fitSize(returnSize, avail, width(gs))
		if size < minReturnSize {
			return fmt.Errorf("return line: %w in the window (%.0f mm)", ErrDoesNotFit, avail/mm)
		}
		// On the return zone's lower edge, just above the recipient.
		ly.addOn1(item{x: x, y: zone.y - 0.3*size, size: size, gs: gs})
	}
	const pad = 1.5 * pt
	lead := min(toMaxLead, (zone.h-2*pad)/float64(len(to)))
	size := min(toMaxSize, lead/1.25)
	shaped := make([][]glyph, len(to))
	for i, s := range to {
		shaped[i] = ly.shape(s, false)
		if fs := fitSize(size, avail, width(shaped[i])); fs < size {
			if fs < minToSize {
				return fmt.Errorf("recipient line %d: %w in the window (%.0f mm)", i+1, ErrDoesNotFit, avail/mm)
			}
			size = fs
		}
	}
	y := zone.y + pad
	for _, gs := range shaped {
		ly.addOn1(item{x: x, y: y + size, size: size, gs: gs})
		y += lead
	}
	return nil
}

// fitSize is size, or the smaller size at which a text of the given width
// (in thousandths of the size) is avail wide.
func fitSize(size, avail, w float64) float64 {
	if w*size/1000 <= avail {
		return size
	}
	return avail * 1000 / w
}

// info sets the date and the reference in the information block.
func (ly *layouter) info(date, ref string) {
	g := ly.geo
	y := g.infoY
	if date != "" {
		gs := ly.shape(date, false)
		size := fitSize(dateSize, g.infoW, width(gs))
		ly.addOn1(item{x: g.infoX, y: y + size, size: size, gs: gs})
		y += dateSize * 1.5
	}
	if ref != "" {
		gs := ly.shape("Ref: "+ref, false)
		size := fitSize(refSize, g.infoW, width(gs))
		ly.addOn1(item{x: g.infoX, y: y + size, size: size, gs: gs})
	}
}

// body sets the body's lines: paragraphs and bullets wrapped to the text
// width, empty lines as vertical space (except at the top of a page).
func (ly *layouter) body(body string) {
	g := ly.geo
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimRight(line, " \t")
		text := strings.TrimLeft(line, " \t")
		if text == "" {
			if ly.y > g.top && !(len(ly.out.pages) == 1 && ly.y <= g.subjectY) {
				ly.y += paragraphGap
			}
			continue
		}
		indent, bullet := 0.0, false
		for _, p := range bulletPrefixes {
			if rest, ok := strings.CutPrefix(text, p); ok {
				text, indent, bullet = strings.TrimLeft(rest, " \t"), bulletHang, true
				break
			}
		}
		gs := ly.shape(text, false)
		for i, sp := range ly.rules.wrap(gs, ly.textWidth(indent)*1000/bodySize) {
			y := ly.nextLine(bodyLead)
			if i == 0 && bullet {
				ly.add(item{x: g.left + bulletIndent, y: y + bodySize, size: bodySize, gs: ly.shape("•", false)})
			}
			ly.add(item{x: g.left + indent, y: y + bodySize, size: bodySize, gs: gs[sp.start:sp.end]})
		}
	}
}

// footers puts "Ref · page N / M" at the foot of every page of the letter.
func (ly *layouter) footers(ref string) {
	n := len(ly.out.pages)
	for i := range ly.out.pages {
		s := "page " + strconv.Itoa(i+1) + " / " + strconv.Itoa(n)
		if ref != "" {
			s = ref + " · " + s
		}
		gs := ly.shape(s, false)
		p := &ly.out.pages[i]
		size := fitSize(footerSize, ly.textWidth(0), width(gs))
		p.items = append(p.items, item{x: ly.geo.left, y: ly.geo.footerY, size: size, gs: gs})
	}
}
