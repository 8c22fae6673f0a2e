package server

import (
	"bytes"
	"math/rand/v2"
	"net/http/httptest"
	"testing"
	"time"

	"billing-api/gen/api"
	"billing-api/server/invoice"
	"billing-api/server/money"
	"billing-api/server/period"
)

// The hand-written invoice list encoder must produce the generated
// encoder's bytes for any list: field order, escaping, times with and
// without fractions and offsets, every status, the trailing newline.
func TestInvoiceListEncodingMatchesTheGeneratedEncoder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(11, 12))
	alphabet := []rune("aZ09-_./ <>&\"\\\n\té€💶\u2028\x00")
	word := func() string {
		rs := make([]rune, r.IntN(9))
		for i := range rs {
			rs[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(rs)
	}
	statuses := []invoice.Status{invoice.StatusPending, invoice.StatusIssued, invoice.StatusOverdue, invoice.StatusPaid,
		invoice.StatusRefunded, invoice.StatusCancelled, "UNKNOWN"}
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("X", -8*3600)}
	when := func() time.Time {
		t := time.Unix(r.Int64N(4e9), 0).In(zones[r.IntN(len(zones))])
		if r.IntN(2) == 0 {
			t = t.Add(time.Duration(r.IntN(1e9)))
		}
		return t
	}
	for n := range 300 {
		list := make([]invoice.Listed, n%15)
		for i := range list {
			list[i] = invoice.Listed{
				Name: word(), Active: r.IntN(2) == 0, Status: statuses[r.IntN(len(statuses))],
				Amount: money.Amount(r.Int64N(1e12) - 1e6), Currency: word(), Month: period.Of(when()),
			}
		}
		items := make([]api.InvoiceInvoiceType, len(list))
		for i, l := range list {
			items[i] = api.InvoiceInvoiceType{
				Name: ptr(l.Name), Active: ptr(l.Active), Status: ptr(invoiceStatusToWire[l.Status]),
				Amount: ptr(l.Amount.String()), Currency: ptr(l.Currency),
				PeriodStart: ptr(l.Month.Start()), PeriodEnd: ptr(l.Month.End()),
			}
		}
		want := httptest.NewRecorder()
		if err := (api.ListInvoices200JSONResponse{Invoices: &items}).VisitListInvoicesResponse(want); err != nil {
			t.Fatal(err)
		}
		got := httptest.NewRecorder()
		if err := invoiceListJSON(appendInvoiceList(nil, list)).VisitListInvoicesResponse(got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Fatalf("\n got  %s\n want %s", got.Body, want.Body)
		}
		if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Fatalf("got %d %q, want %d %q", got.Code, got.Header().Get("Content-Type"), want.Code, want.Header().Get("Content-Type"))
		}
	}
}
