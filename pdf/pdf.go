// Package pdf renders invoices, and the drafts of months not closed yet, as
// PDF documents.
//
// The renderer stands alone: it takes an Invoice value and returns bytes.
// Fonts are the Go fonts embedded from golang.org/x/image/font/gofont, so no
// system font is ever looked up, and the output depends on the Invoice only
// (the document's creation date is the invoice's issue date), so the same
// Invoice always yields the same bytes.
package pdf

import (
	"fmt"
	"time"

	"github.com/signintech/gopdf"

	"billing-api/server/money"
)

// Party is the seller or the customer billed: a name and address lines.
type Party struct {
	Name  string
	Lines []string // address lines, top to bottom
}

// Line is one item of an invoice.
type Line struct {
	Description string
	Quantity    string // preformatted, e.g. "1,200 API calls"
	UnitPrice   money.Amount
	Amount      money.Amount
}

// DraftNotice is what marks a draft, at the top of its first page.
const DraftNotice = "DRAFT — not an invoice; amounts change until the month closes"

// Invoice is everything the renderer shows. Total is expected to be
// Subtotal − Discount (the renderer shows the figures as given and does not
// recompute them).
type Invoice struct {
	// Draft marks the draft of a month not closed yet: it is headed
	// DraftNotice and shows no number, due date or status (those are left
	// empty), and IssuedAt is when it was prepared.
	Draft    bool
	Number   string
	Status   string
	Currency string // ISO 4217 code, e.g. "USD"

	Seller, BillTo Party

	// PeriodStart and PeriodEnd are the billing period, shown as given.
	PeriodStart, PeriodEnd time.Time
	// IssuedAt is also the PDF's creation date.
	IssuedAt, DueAt time.Time

	Lines []Line

	Subtotal, Discount, Total money.Amount
}

// name is how the document calls itself in its title, continuation lines
// and footer: "Invoice INV-2026-10-000003", or "Draft invoice".
func (inv Invoice) name() string {
	if inv.Draft {
		return "Draft invoice"
	}
	return "Invoice " + inv.Number
}

// Render returns the invoice as a PDF. The same Invoice always yields the
// same bytes.
func Render(inv Invoice) ([]byte, error) {
	r, err := newRenderer(inv)
	if err != nil {
		return nil, err
	}
	rows, err := r.layoutRows()
	if err != nil {
		return nil, err
	}
	tableTop := firstTableTop(inv)
	heights := make([]float64, len(rows))
	for i, row := range rows {
		heights[i] = row.height()
	}
	pages := paginate(heights, tableTop, contTableTop, contentBottom, totalsHeight)
	for i, p := range pages {
		if err := r.drawPage(i, len(pages), p, tableTop, rows); err != nil {
			return nil, err
		}
	}
	out, err := r.gp.GetBytesPdfReturnErr()
	if err != nil {
		return nil, fmt.Errorf("pdf: write %s: %w", inv.name(), err)
	}
	return out, nil
}

// drawPage draws page index (0-based) of total: the header or the
// continuation line, the table rows of the plan, the totals if the plan
// has them, and the footer.
func (r *renderer) drawPage(index, total int, p pagePlan, firstTableTop float64, rows []row) error {
	r.gp.AddPage()
	// Give text an explicit colour so that the grey fill of the table
	// header never leaks into it.
	r.gp.SetTextColor(0, 0, 0)
	tableTop := contTableTop
	if index == 0 {
		tableTop = firstTableTop
		if err := r.drawHeader(); err != nil {
			return err
		}
	} else if err := r.drawContinuation(); err != nil {
		return err
	}
	y := tableTop
	if p.end > p.start || index == 0 {
		if err := r.drawTableHeader(y); err != nil {
			return err
		}
		y += tableHeaderHeight
	}
	for _, rw := range rows[p.start:p.end] {
		if err := r.drawRow(y, rw); err != nil {
			return err
		}
		y += rw.height()
	}
	if p.totals {
		if err := r.drawTotals(y); err != nil {
			return err
		}
	}
	return r.drawFooter(index+1, total)
}

// newRenderer starts an A4 document with the Go fonts and the document
// information taken from the invoice.
func newRenderer(inv Invoice) (*renderer, error) {
	gp := &gopdf.GoPdf{}
	gp.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	if err := addFonts(gp); err != nil {
		return nil, err
	}
	// Only fixed strings and the issue date go into the information
	// dictionary; a zero IssuedAt leaves the creation date out rather than
	// letting gopdf or a reader fill in the current time. UTC so that the
	// same instant in another time.Location gives the same bytes.
	info := gopdf.PdfInfo{
		Title:    inv.name(),
		Creator:  "billing-api",
		Producer: "billing-api",
	}
	if !inv.IssuedAt.IsZero() {
		info.CreationDate = inv.IssuedAt.UTC()
	}
	gp.SetInfo(info)
	return &renderer{gp: gp, inv: inv}, nil
}

// renderer draws one invoice; it lives for one Render call.
type renderer struct {
	gp  *gopdf.GoPdf
	inv Invoice
}
