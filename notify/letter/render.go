package letter

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// Letter is one person's breach notice on paper.
type Letter struct {
	Paper Paper
	// Locale (ja, en, de, fr, es, it, nl, ko, pt, zh-Hans, zh-Hant)
	// affects line breaking only.
	Locale string
	// From is the sender block: the organisation's name, then its address
	// lines. Printed top right on A4, top left on US Letter.
	From []string
	// ReturnLine is the sender's return address on one short line, printed
	// small at the top of the envelope window; may be empty.
	ReturnLine string
	// To is the recipient: name, then postal address lines; at most 9
	// non-blank lines.
	To []string
	// Date is already formatted in the person's language.
	Date string
	// Ref is printed as "Ref: <Ref>" near the date and in every page's
	// footer, and is the only thing errors say about the letter.
	Ref string
	// Subject is the bold heading.
	Subject string
	// Body is plain text: each line a paragraph or list item, wrapped to
	// the text width; an empty line is vertical space; a line starting
	// with "- ", "• " or "* " is a bullet.
	Body string
}

// Result tells what Render or RenderBatch wrote.
type Result struct {
	Pages   int // pages in the PDF
	Missing int // runes that no font has, printed as U+FFFD (or '?')
}

// Renderer renders letters with one set of fonts. It is safe for
// concurrent use by several goroutines.
type Renderer struct {
	fonts *Fonts
}

// NewRenderer returns a Renderer that sets letters in f.
func NewRenderer(f *Fonts) *Renderer { return &Renderer{fonts: f} }

// pdfEpoch is the creation and modification date written into every PDF,
// so that the same letter gives the same bytes.
var pdfEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Render writes one letter's PDF to w. The output depends on l alone: the
// same letter gives the same bytes.
func (r *Renderer) Render(w io.Writer, l *Letter) (Result, error) {
	if l == nil {
		return Result{}, &Error{Err: errNilLetter}
	}
	lo, err := r.fonts.layout(l)
	if err != nil {
		return Result{}, err
	}
	res, err := r.write(w, []*laidOut{lo}, false)
	if err != nil {
		return Result{}, &Error{Ref: l.Ref, Err: err}
	}
	return res, nil
}

// RenderBatch writes many letters into one PDF for a mailing house. Each
// letter starts on an odd page: a letter with an odd page count is followed
// by a blank page, so duplex printing never puts two people's letters on one
// sheet. Deterministic like Render; Result.Pages counts the blank pages too.
func (r *Renderer) RenderBatch(w io.Writer, ls []*Letter) (Result, error) {
	if len(ls) == 0 {
		return Result{}, errEmptyBatch
	}
	docs := make([]*laidOut, len(ls))
	for i, l := range ls {
		if l == nil {
			return Result{}, fmt.Errorf("batch letter %d: %w", i+1, &Error{Err: errNilLetter})
		}
		lo, err := r.fonts.layout(l)
		if err != nil {
			return Result{}, fmt.Errorf("batch letter %d: %w", i+1, err)
		}
		docs[i] = lo
	}
	res, err := r.write(w, docs, true)
	if err != nil {
		return Result{}, fmt.Errorf("letter batch of %d: %w", len(ls), err)
	}
	return res, nil
}

// write draws laid-out letters into one PDF. The fonts are cut down to the
// runes the letters use before fpdf sees them.
func (r *Renderer) write(w io.Writer, docs []*laidOut, pad bool) (Result, error) {
	var used [numFonts]map[rune]bool
	for i := range used {
		used[i] = map[rune]bool{}
	}
	for _, d := range docs {
		for _, p := range d.pages {
			for _, it := range p.items {
				for _, g := range it.gs {
					used[g.font][g.r] = true
				}
			}
		}
	}

	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "P", UnitStr: "pt", Size: fpdf.SizeType{Wd: docs[0].pages[0].geo.w, Ht: docs[0].pages[0].geo.h}})
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(pdfEpoch)
	pdf.SetModificationDate(pdfEpoch)
	pdf.SetProducer("breachctl", false)
	pdf.SetCompression(true)
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(0, 0, 0)
	for id, set := range used {
		if len(set) == 0 {
			continue
		}
		runes := make([]rune, 0, len(set))
		for c := range set {
			runes = append(runes, c)
		}
		slices.Sort(runes)
		font, err := r.fonts.faces[id].subset(runes)
		if err != nil {
			return Result{}, err
		}
		pdf.AddUTF8FontFromBytes(fontID(id).pdfFamily(), fontID(id).pdfStyle(), font)
	}

	var res Result
	var sb strings.Builder
	for _, d := range docs {
		res.Missing += d.missing
		for _, p := range d.pages {
			newPage(pdf, p.geo)
			drawMarks(pdf, p.geo)
			for _, it := range p.items {
				drawItem(pdf, &sb, it)
			}
		}
		res.Pages += len(d.pages)
		if pad && len(d.pages)%2 == 1 {
			newPage(pdf, d.pages[len(d.pages)-1].geo)
			res.Pages++
		}
	}
	if err := pdf.Output(w); err != nil {
		return Result{}, fmt.Errorf("write pdf: %w", err)
	}
	return res, nil
}

func newPage(pdf *fpdf.Fpdf, g *geometry) {
	pdf.AddPageFormat("P", fpdf.SizeType{Wd: g.w, Ht: g.h})
}

// drawMarks draws the fold marks and the punch mark at the left edge.
func drawMarks(pdf *fpdf.Fpdf, g *geometry) {
	pdf.SetLineWidth(0.4 * pt)
	pdf.SetDrawColor(0, 0, 0)
	for _, y := range g.folds {
		pdf.Line(g.markX0, y, g.markX1, y)
	}
	if g.punch > 0 {
		pdf.Line(g.markX0, g.punch, g.punchX1, g.punch)
	}
}

// drawItem draws a line of text as runs of glyphs of one face each.
func drawItem(pdf *fpdf.Fpdf, sb *strings.Builder, it item) {
	x := it.x
	for start := 0; start < len(it.gs); {
		id := it.gs[start].font
		end := start
		var w float64
		sb.Reset()
		for ; end < len(it.gs) && it.gs[end].font == id; end++ {
			sb.WriteRune(it.gs[end].r)
			w += it.gs[end].w
		}
		pdf.SetFont(id.pdfFamily(), id.pdfStyle(), it.size)
		stroke := it.bold && !id.hasBold()
		if stroke { // the CJK faces have no bold: fill and stroke the outlines
			pdf.SetLineWidth(it.size * 0.03)
			pdf.SetTextRenderingMode(2)
		}
		pdf.Text(x, it.y, sb.String())
		if stroke {
			pdf.SetTextRenderingMode(0)
		}
		x += w * it.size / 1000
		start = end
	}
}
