package pdf

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lpdf "github.com/ledongthuc/pdf"

	"billing-api/server/money"
)

// update rewrites the golden files: go test ./pdf -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden.pdf")

// sampleInvoice returns an invoice with n line items whose descriptions
// vary in length (some wrap, one is cut) and whose last description is
// unique, for finding it on the last page.
func sampleInvoice(n int) Invoice {
	inv := Invoice{
		Number:   "INV-2026-000417",
		Status:   "OPEN",
		Currency: "USD",
		Seller: Party{Name: "Example Billing Ltd", Lines: []string{
			"1 Infinite Loop", "Suite 400", "Springfield, 12345", "VAT GB123456789",
		}},
		BillTo: Party{Name: "Acme Corporation", Lines: []string{
			"Attn: Accounts Payable", "500 Market Street", "San Francisco, CA 94105",
		}},
		PeriodStart: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		PeriodEnd:   time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		IssuedAt:    time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC),
		DueAt:       time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := range n {
		desc := fmt.Sprintf("API calls, region eu-west-%d", i%7)
		switch i % 10 {
		case 3:
			desc += ", including the burst allowance that exceeds the plan's included quota"
		case 7:
			desc = strings.Repeat("Very long description that keeps going ", 8)
		case 9:
			desc = "Supercalifragilisticexpialidocious-unbroken-identifier-" + strings.Repeat("x", 60)
		}
		if i == n-1 {
			desc = "Final storage overage line"
		}
		unit := money.Amount(125 + i)
		qty := int64(1000 + 37*i)
		inv.Lines = append(inv.Lines, Line{
			Description: desc,
			Quantity:    fmt.Sprintf("%d", qty),
			UnitPrice:   unit,
			Amount:      unit.Times(qty),
		})
		inv.Subtotal += unit.Times(qty)
	}
	inv.Discount = inv.Subtotal / 10
	inv.Total = inv.Subtotal - inv.Discount
	return inv
}

func TestRenderIsDeterministic(t *testing.T) {
	t.Parallel()
	inv := sampleInvoice(30)
	a, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two renders of the same invoice differ")
	}
	// The same instant in another time zone is the same invoice.
	inv.IssuedAt = inv.IssuedAt.In(time.FixedZone("X", 5*3600))
	c, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, c) {
		t.Fatal("the issue date's time zone changed the bytes")
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	got, err := Render(sampleInvoice(3))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "small.golden.pdf")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pdf -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("render differs from %s (%d bytes, want %d); if the change is intended, run go test ./pdf -run Golden -update", path, len(got), len(want))
	}
}

// pageTexts extracts the text of every page of a PDF with a pure-Go reader.
func pageTexts(t *testing.T, data []byte) []string {
	t.Helper()
	rd, err := lpdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for i := 1; i <= rd.NumPage(); i++ {
		p := rd.Page(i)
		s, err := p.GetPlainText(nil)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		texts = append(texts, s)
	}
	return texts
}

// TestRender200Lines renders a 200-line invoice and reads its text back
// with a pure-Go PDF reader (github.com/ledongthuc/pdf, which decodes the
// embedded fonts' ToUnicode maps).
func TestRender200Lines(t *testing.T) {
	t.Parallel()
	inv := sampleInvoice(200)
	data, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	pages := pageTexts(t, data)
	// The layout gives 9 pages: rows are 20 pt (one description line) to
	// 44 pt (three), the first page's table starts below the header and
	// later pages' below the "continued" line, and the totals do not fit
	// under row 199 on page 8, so row 200 moves with them to page 9.
	const wantPages = 9
	if len(pages) != wantPages {
		t.Fatalf("got %d pages, want %d", len(pages), wantPages)
	}
	for i, p := range pages {
		if want := fmt.Sprintf("Page %d of %d", i+1, wantPages); !strings.Contains(p, want) {
			t.Errorf("page %d lacks %q", i+1, want)
		}
		if !strings.Contains(p, "Unit price") {
			t.Errorf("page %d lacks the table header", i+1)
		}
		if !strings.Contains(p, inv.Number) {
			t.Errorf("page %d lacks the invoice number %q", i+1, inv.Number)
		}
	}
	first, last := pages[0], pages[len(pages)-1]
	for _, want := range []string{"Example Billing Ltd", "Acme Corporation", "2026-11-01", "2026-12-01", "2026-10-01"} {
		if !strings.Contains(first, want) {
			t.Errorf("first page lacks %q", want)
		}
	}
	for _, want := range []string{
		inv.Lines[len(inv.Lines)-1].Description,
		money.Format(inv.Total, "USD"),
		money.Format(inv.Subtotal, "USD"),
		"-" + money.Format(inv.Discount, "USD"),
		"OPEN",
	} {
		if !strings.Contains(last, want) {
			t.Errorf("last page lacks %q", want)
		}
	}
	if want := "2,113,788.60 USD"; money.Format(inv.Total, "USD") != want {
		t.Errorf("total %s, want %s", money.Format(inv.Total, "USD"), want)
	}
}

// A draft is headed DRAFT and its notice, and shows no invoice number, due
// date or status anywhere; its lines and totals are drawn as an invoice's.
func TestDraftIsMarkedAndHasNoNumberDueDateOrStatus(t *testing.T) {
	t.Parallel()
	inv := sampleInvoice(40)
	inv.Draft, inv.Number, inv.Status, inv.DueAt = true, "", "", time.Time{}
	data, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	pages := pageTexts(t, data)
	if len(pages) < 2 {
		t.Fatalf("%d pages, want a continuation page too", len(pages))
	}
	first, last := pages[0], pages[len(pages)-1]
	for _, want := range []string{"DRAFT", DraftNotice, "Prepared on", "2026-11-01", "2026-10-01", "Acme Corporation"} {
		if !strings.Contains(first, want) {
			t.Errorf("first page lacks %q:\n%s", want, first)
		}
	}
	for _, want := range []string{money.Format(inv.Total, "USD"), inv.Lines[len(inv.Lines)-1].Description} {
		if !strings.Contains(last, want) {
			t.Errorf("last page lacks %q", want)
		}
	}
	for i, p := range pages {
		for _, never := range []string{"Invoice number", "Due date", "Status", "No. ", "INVOICE"} {
			if strings.Contains(p, never) {
				t.Errorf("page %d of a draft shows %q", i+1, never)
			}
		}
		if !strings.Contains(p, "Draft invoice") {
			t.Errorf("page %d does not say it is a draft in its footer", i+1)
		}
	}
}

func TestWrapFitsColumn(t *testing.T) {
	t.Parallel()
	r, err := newRenderer(Invoice{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.gp.SetFont(fontRegular, "", bodySize); err != nil {
		t.Fatal(err)
	}
	const width = 100.0
	for _, text := range []string{
		"",
		"short",
		strings.Repeat("word ", 80),
		strings.Repeat("x", 500),
		"Ünïcödé descriptions — with dashes, “quotes” and 日本語",
	} {
		lines, err := r.wrap(text, width, maxDescLines)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) < 1 || len(lines) > maxDescLines {
			t.Errorf("%.20q: %d lines", text, len(lines))
		}
		for _, l := range lines {
			w, err := r.width(l)
			if err != nil {
				t.Fatal(err)
			}
			if w > width {
				t.Errorf("%.20q: line %q is %.1f pt wide, column %.1f", text, l, w, width)
			}
		}
	}
}

func TestPaginate(t *testing.T) {
	t.Parallel()
	rows := func(n int) []float64 {
		h := make([]float64, n)
		for i := range h {
			h[i] = 10
		}
		return h
	}
	// Table header 20, rows 10, bottom 100: the first page (top 0) holds
	// 8 rows, later pages (top 30) 5.
	cases := []struct {
		name   string
		n      int
		totals float64
		want   []pagePlan
	}{
		{"empty", 0, 10, []pagePlan{{0, 0, true}}},
		{"fits", 3, 10, []pagePlan{{0, 3, true}}},
		{"totals move with last row", 8, 10, []pagePlan{{0, 7, false}, {7, 8, true}}},
		{"spill", 10, 10, []pagePlan{{0, 8, false}, {8, 10, true}}},
		{"single row page", 9, 45, []pagePlan{{0, 8, false}, {8, 9, false}, {9, 9, true}}},
	}
	for _, c := range cases {
		got := paginate(rows(c.n), 0, 30, 100, c.totals)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestDiscountText(t *testing.T) {
	t.Parallel()
	for d, want := range map[money.Amount]string{
		1000: "-10.00 USD",
		0:    "0.00 USD",
		-500: "+5.00 USD",
	} {
		if got := discountText(d, "USD"); got != want {
			t.Errorf("discountText(%d) = %q, want %q", d, got, want)
		}
	}
}

func BenchmarkRender200Lines(b *testing.B) {
	inv := sampleInvoice(200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(inv); err != nil {
			b.Fatal(err)
		}
	}
}
