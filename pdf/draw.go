package pdf

import (
	"fmt"
	"time"

	"github.com/signintech/gopdf"

	"billing-api/server/money"
)

// First-page header geometry.
const (
	titleSize     = 20.0
	nameSize      = 11.0
	nameHeight    = 14.0
	labelSize     = 8.0
	labelHeight   = 12.0
	headerBodyTop = marginTop + 40 // seller block and invoice facts
	partyGap      = 16.0           // between the seller and bill-to blocks
	partyWidth    = 260.0
	metaX         = marginX + 290
	metaWidth     = contentWidth - 290
	metaLabelW    = 85.0
	metaRowHeight = 14.0
	metaRows      = 5
	tableGap      = 24.0 // between the header and the table
	// draftNoticeTop is where a draft's notice goes, below the title.
	draftNoticeTop = 26.0
)

// firstTableTop is where the line-item table starts on the first page,
// below the seller, bill-to and invoice facts that drawHeader draws.
func firstTableTop(inv Invoice) float64 {
	left := billToTop(inv) + labelHeight + partyHeight(inv.BillTo)
	right := headerBodyTop + metaRows*metaRowHeight
	return max(left, right) + tableGap
}

// billToTop is where the bill-to block starts, below the seller's.
func billToTop(inv Invoice) float64 {
	return headerBodyTop + partyHeight(inv.Seller) + partyGap
}

// partyHeight is the height of a party's name and address lines.
func partyHeight(p Party) float64 {
	return nameHeight + float64(min(len(p.Lines), maxPartyLines))*lineHeight
}

// text draws s in family at size into the box (x, y, w), shrunk or cut to
// fit the width, aligned gopdf.Left, gopdf.Right or gopdf.Center.
func (r *renderer) text(x, y, w float64, s, family string, size float64, align int) error {
	if s == "" {
		return nil
	}
	s, size, err := r.fitText(s, family, size, w)
	if err != nil {
		return err
	}
	r.gp.SetXY(x, y)
	rect := &gopdf.Rect{W: w, H: size * 1.25}
	if err := r.gp.CellWithOption(rect, s, gopdf.CellOption{Align: align | gopdf.Top}); err != nil {
		return fmt.Errorf("pdf: draw text: %w", err)
	}
	return nil
}

// drawHeader draws the first page's title, seller, bill-to and invoice
// facts (number, status, dates, period); a draft's title is DRAFT, with
// DraftNotice under it.
func (r *renderer) drawHeader() error {
	inv := r.inv
	title, corner := "INVOICE", "No. "+inv.Number
	if inv.Draft {
		title, corner = "DRAFT", "Not an invoice"
	}
	if err := r.text(marginX, marginTop, partyWidth, title, fontBold, titleSize, gopdf.Left); err != nil {
		return err
	}
	if err := r.text(metaX, marginTop+6, metaWidth, corner, fontBold, 12, gopdf.Right); err != nil {
		return err
	}
	if inv.Draft {
		if err := r.text(marginX, marginTop+draftNoticeTop, contentWidth, DraftNotice, fontBold, bodySize, gopdf.Left); err != nil {
			return err
		}
	}
	if err := r.drawParty(headerBodyTop, inv.Seller); err != nil {
		return err
	}
	y := billToTop(inv)
	if err := r.text(marginX, y, partyWidth, "BILL TO", fontBold, labelSize, gopdf.Left); err != nil {
		return err
	}
	if err := r.drawParty(y+labelHeight, inv.BillTo); err != nil {
		return err
	}
	return r.drawFacts()
}

// drawParty draws a party's name in bold and its address lines below.
func (r *renderer) drawParty(y float64, p Party) error {
	if err := r.text(marginX, y, partyWidth, p.Name, fontBold, nameSize, gopdf.Left); err != nil {
		return err
	}
	y += nameHeight
	for _, l := range p.Lines[:min(len(p.Lines), maxPartyLines)] {
		if err := r.text(marginX, y, partyWidth, l, fontRegular, bodySize, gopdf.Left); err != nil {
			return err
		}
		y += lineHeight
	}
	return nil
}

// drawFacts draws the invoice's facts as label/value rows at the right of
// the header (a draft has only when it was prepared and its period).
func (r *renderer) drawFacts() error {
	inv := r.inv
	period := formatDate(inv.PeriodStart) + " – " + formatDate(inv.PeriodEnd)
	facts := [][2]string{
		{"Invoice number", inv.Number},
		{"Status", inv.Status},
		{"Issue date", formatDate(inv.IssuedAt)},
		{"Due date", formatDate(inv.DueAt)},
		{"Billing period", period},
	}
	if inv.Draft {
		facts = [][2]string{{"Prepared on", formatDate(inv.IssuedAt)}, {"Billing period", period}}
	}
	for i, f := range facts {
		y := headerBodyTop + float64(i)*metaRowHeight
		if err := r.text(metaX, y, metaLabelW, f[0], fontBold, bodySize, gopdf.Left); err != nil {
			return err
		}
		if err := r.text(metaX+metaLabelW, y, metaWidth-metaLabelW, f[1], fontRegular, bodySize, gopdf.Right); err != nil {
			return err
		}
	}
	return nil
}

// formatDate shows a date as YYYY-MM-DD in UTC (unambiguous in every
// locale), and a zero time as "-".
func formatDate(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.DateOnly)
}

// drawContinuation draws the line that heads every page after the first.
func (r *renderer) drawContinuation() error {
	return r.text(marginX, marginTop, contentWidth, r.inv.name()+" (continued)", fontBold, 10, gopdf.Left)
}

// drawTableHeader draws the table's header row, shaded, at y.
func (r *renderer) drawTableHeader(y float64) error {
	r.gp.SetFillColor(235, 235, 235)
	r.gp.RectFromUpperLeftWithStyle(marginX, y, contentWidth, tableHeaderHeight, "F")
	for _, c := range columns() {
		if err := r.text(c.x+cellPadX, y+5, c.w-2*cellPadX, c.title, fontBold, bodySize, c.align); err != nil {
			return err
		}
	}
	return nil
}

// drawRow draws one line item at y with a rule below it.
func (r *renderer) drawRow(y float64, rw row) error {
	cols := columns()
	ty := y + rowPadY
	for i, l := range rw.desc {
		if err := r.text(cols[0].x+cellPadX, ty+float64(i)*lineHeight, cols[0].w-2*cellPadX, l, fontRegular, bodySize, gopdf.Left); err != nil {
			return err
		}
	}
	for i, s := range [3]string{rw.qty, rw.unit, rw.amount} {
		c := cols[i+1]
		if err := r.text(c.x+cellPadX, ty, c.w-2*cellPadX, s, fontRegular, bodySize, c.align); err != nil {
			return err
		}
	}
	r.rule(marginX, y+rw.height())
	return nil
}

// rule draws a thin grey line at y from x to the table's right edge.
func (r *renderer) rule(x, y float64) {
	r.gp.SetStrokeColor(200, 200, 200)
	r.gp.SetLineWidth(0.5)
	r.gp.Line(x, y, marginX+contentWidth, y)
}

// drawTotals draws subtotal, discount, total and status below the table,
// labels in the unit-price column and values in the amount column.
func (r *renderer) drawTotals(y float64) error {
	inv := r.inv
	cols := columns()
	lc, vc := cols[2], cols[3]
	type total struct {
		label, value string
		bold         bool
	}
	totals := []total{
		{"Subtotal", money.Format(inv.Subtotal, inv.Currency), false},
		{"Discount", discountText(inv.Discount, inv.Currency), false},
		{"Total", money.Format(inv.Total, inv.Currency), true},
	}
	if !inv.Draft {
		totals = append(totals, total{"Status", inv.Status, false})
	}
	y += 12
	for i, t := range totals {
		family := fontRegular
		ty := y + float64(i)*totalsRowHeight
		if t.bold {
			family = fontBold
			r.rule(lc.x, ty-3)
		}
		if err := r.text(lc.x+cellPadX, ty, lc.w-2*cellPadX, t.label, family, bodySize+1, gopdf.Left); err != nil {
			return err
		}
		if err := r.text(vc.x+cellPadX, ty, vc.w-2*cellPadX, t.value, family, bodySize+1, gopdf.Right); err != nil {
			return err
		}
	}
	return nil
}

// drawFooter draws the invoice number and "Page n of m" at the foot of
// the page.
func (r *renderer) drawFooter(n, m int) error {
	r.gp.SetTextColor(110, 110, 110)
	defer r.gp.SetTextColor(0, 0, 0)
	half := contentWidth / 2
	if err := r.text(marginX, footerY, half, r.inv.name(), fontRegular, labelSize, gopdf.Left); err != nil {
		return err
	}
	return r.text(marginX+half, footerY, half, fmt.Sprintf("Page %d of %d", n, m), fontRegular, labelSize, gopdf.Right)
}
