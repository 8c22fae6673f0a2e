package pdf

import (
	"fmt"
	"strings"

	"github.com/signintech/gopdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"billing-api/server/money"
)

// Page geometry, in points, on an A4 page (595.28 × 841.89).
const (
	pageWidth     = 595.28
	pageHeight    = 841.89
	marginX       = 42.0
	marginTop     = 42.0
	contentWidth  = pageWidth - 2*marginX
	contentBottom = pageHeight - 64 // no table row or total goes below this
	footerY       = pageHeight - 42

	// contTableTop is where the table starts on pages after the first,
	// below the "continued" line.
	contTableTop = marginTop + 26
)

// Text sizes and spacing.
const (
	bodySize          = 9.0
	minFontSize       = 6.0 // fitText shrinks no further, then truncates
	lineHeight        = 12.0
	rowPadY           = 4.0 // above and below the text of a table row
	cellPadX          = 4.0 // left and right inside a table cell
	tableHeaderHeight = 20.0
	maxDescLines      = 3 // a longer description is cut with an ellipsis
	maxPartyLines     = 6 // address lines shown per party
	totalsRowHeight   = 16.0
	totalsRows        = 4 // subtotal, discount, total, status
	totalsHeight      = 12 + totalsRows*totalsRowHeight
)

// Font family names registered with gopdf.
const (
	fontRegular = "go"
	fontBold    = "go-bold"
)

// ellipsis marks text cut short to fit its column.
const ellipsis = "…"

// column is one column of the line-item table.
type column struct {
	title string
	x, w  float64
	align int // gopdf.Left or gopdf.Right
}

// columns returns the line-item table's columns, left to right; they span
// the content width exactly.
func columns() [4]column {
	const descW, qtyW, unitW = 215.0, 66.0, 113.0
	return [4]column{
		{"Description", marginX, descW, gopdf.Left},
		{"Quantity", marginX + descW, qtyW, gopdf.Right},
		{"Unit price", marginX + descW + qtyW, unitW, gopdf.Right},
		{"Amount", marginX + descW + qtyW + unitW, contentWidth - descW - qtyW - unitW, gopdf.Right},
	}
}

// addFonts embeds the Go fonts; no system font is looked up.
func addFonts(gp *gopdf.GoPdf) error {
	if err := gp.AddTTFFontData(fontRegular, goregular.TTF); err != nil {
		return fmt.Errorf("pdf: load Go regular font: %w", err)
	}
	if err := gp.AddTTFFontData(fontBold, gobold.TTF); err != nil {
		return fmt.Errorf("pdf: load Go bold font: %w", err)
	}
	return nil
}

// row is one laid-out line item: the description wrapped into lines and
// the other cells formatted.
type row struct {
	desc              []string
	qty, unit, amount string
}

// height is the row's height in the table.
func (r row) height() float64 {
	return float64(len(r.desc))*lineHeight + 2*rowPadY
}

// layoutRows formats every line item and wraps its description to the
// description column.
func (r *renderer) layoutRows() ([]row, error) {
	if err := r.gp.SetFont(fontRegular, "", bodySize); err != nil {
		return nil, fmt.Errorf("pdf: set font: %w", err)
	}
	descW := columns()[0].w - 2*cellPadX
	rows := make([]row, len(r.inv.Lines))
	for i, l := range r.inv.Lines {
		desc, err := r.wrap(l.Description, descW, maxDescLines)
		if err != nil {
			return nil, err
		}
		rows[i] = row{
			desc:   desc,
			qty:    l.Quantity,
			unit:   money.Format(l.UnitPrice, r.inv.Currency),
			amount: money.Format(l.Amount, r.inv.Currency),
		}
	}
	return rows, nil
}

// width measures text in the current font.
func (r *renderer) width(text string) (float64, error) {
	if text == "" {
		return 0, nil
	}
	w, err := r.gp.MeasureTextWidth(text)
	if err != nil {
		return 0, fmt.Errorf("pdf: measure text: %w", err)
	}
	return w, nil
}

// wrap breaks text into lines no wider than width in the current font,
// at spaces where it can and inside a word that is wider than a line on
// its own. Past maxLines the last line kept ends in an ellipsis. It
// always returns at least one line.
func (r *renderer) wrap(text string, width float64, maxLines int) ([]string, error) {
	var lines []string
	cur := ""
	for _, word := range strings.Fields(text) {
		cand := word
		if cur != "" {
			cand = cur + " " + word
		}
		w, err := r.width(cand)
		if err != nil {
			return nil, err
		}
		if w <= width {
			cur = cand
			continue
		}
		if cur != "" {
			lines = append(lines, cur)
		}
		pieces, err := r.breakWord(word, width)
		if err != nil {
			return nil, err
		}
		lines = append(lines, pieces[:len(pieces)-1]...)
		cur = pieces[len(pieces)-1]
	}
	lines = append(lines, cur)
	if len(lines) <= maxLines {
		return lines, nil
	}
	lines = lines[:maxLines]
	last, err := r.ellipsize(lines[maxLines-1]+" ", width)
	lines[maxLines-1] = last
	return lines, err
}

// breakWord cuts a word into pieces no wider than width (each at least
// one character, so a too-narrow width cannot loop forever).
func (r *renderer) breakWord(word string, width float64) ([]string, error) {
	var pieces []string
	rest := []rune(word)
	for len(rest) > 0 {
		n, err := r.fitPrefix(rest, width)
		if err != nil {
			return nil, err
		}
		pieces = append(pieces, string(rest[:n]))
		rest = rest[n:]
	}
	return pieces, nil
}

// fitPrefix is how many leading runes of text fit in width, at least one.
func (r *renderer) fitPrefix(text []rune, width float64) (int, error) {
	lo, hi := 1, len(text) // invariant: answer in [lo, hi]
	for lo < hi {
		mid := (lo + hi + 1) / 2
		w, err := r.width(string(text[:mid]))
		if err != nil {
			return 0, err
		}
		if w <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// ellipsize shortens text until it and an ellipsis fit in width, dropping
// trailing spaces, and returns it with the ellipsis.
func (r *renderer) ellipsize(text string, width float64) (string, error) {
	runes := []rune(strings.TrimRight(text, " "))
	for len(runes) > 0 {
		w, err := r.width(string(runes) + ellipsis)
		if err != nil {
			return "", err
		}
		if w <= width {
			break
		}
		runes = []rune(strings.TrimRight(string(runes[:len(runes)-1]), " "))
	}
	return string(runes) + ellipsis, nil
}

// fitText returns text and a font size at which it fits width in family:
// size itself if it fits, else a smaller size down to minFontSize, else
// the text cut with an ellipsis at minFontSize.
func (r *renderer) fitText(text, family string, size, width float64) (string, float64, error) {
	for s := size; s >= minFontSize; s -= 0.5 {
		if err := r.gp.SetFont(family, "", s); err != nil {
			return "", 0, fmt.Errorf("pdf: set font: %w", err)
		}
		w, err := r.width(text)
		if err != nil {
			return "", 0, err
		}
		if w <= width {
			return text, s, nil
		}
	}
	cut, err := r.ellipsize(text, width)
	return cut, minFontSize, err
}

// pagePlan is what one page holds: table rows [start, end) and, on the
// last page, the totals.
type pagePlan struct {
	start, end int
	totals     bool
}

// paginate splits rows of the given heights over pages: the first page's
// table starts at firstTop, later pages' at nextTop, and nothing goes
// below bottom. Each page's table has its header row; the totals follow
// the last row, and when they do not fit below it they move to a new page
// together with that row.
func paginate(heights []float64, firstTop, nextTop, bottom, totals float64) []pagePlan {
	var pages []pagePlan
	cur := pagePlan{}
	y := firstTop + tableHeaderHeight
	for i, h := range heights {
		if y+h > bottom && i > cur.start {
			cur.end = i
			pages = append(pages, cur)
			cur = pagePlan{start: i}
			y = nextTop + tableHeaderHeight
		}
		y += h
	}
	cur.end = len(heights)
	if y+totals > bottom {
		// The totals go to a new page; take the last row along, when this
		// page keeps another, so that they never stand alone.
		split := cur.end
		if cur.end-cur.start >= 2 {
			split--
		}
		pages = append(pages, pagePlan{start: cur.start, end: split})
		cur = pagePlan{start: split, end: cur.end}
	}
	cur.totals = true
	return append(pages, cur)
}
