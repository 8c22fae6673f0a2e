package server

import (
	"context"

	"github.com/google/uuid"

	"billing-api/gen/api"
	"billing-api/server/invoice"
	"billing-api/store"
)

// wireInvoices builds invoicing on metering, plans, add-ons and payment
// methods. The pending invoice of a tenant is dropped here at once when its
// usage, plan or add-ons change on this replica; and its PRIMARY payment
// method may not go while an invoice is unpaid.
func wireInvoices(a *App) error {
	svc, err := invoice.NewService(invoice.Config{
		Store: store.NewInvoices(a.DB), Closings: a.Closings, Plans: a.Plans, Usage: a.Usage, Subscriptions: a.Subscriptions,
		Methods: a.Payments, Tenants: a.Tenancy, Provider: a.cfg.PaymentProvider, Now: a.Now,
		Grace: a.cfg.InvoiceGrace, Owner: a.cfg.ReplicaName, CacheTTL: a.cfg.CacheTTL,
	})
	if err != nil {
		return err
	}
	a.Invoices = svc
	a.Usage.OnTenantsChanged(svc.Invalidate)
	a.Subscriptions.OnChanged(func(id uuid.UUID) { svc.Invalidate(id) })
	a.Payments.BlockPrimaryDeletion(svc.HasUnpaid)
	return nil
}

var invoiceStatusToWire = map[invoice.Status]api.InvoiceInvoiceStatus{
	invoice.StatusPending:   api.InvoiceInvoiceStatusSTATUSPENDING,
	invoice.StatusIssued:    api.InvoiceInvoiceStatusSTATUSISSUED,
	invoice.StatusOverdue:   api.InvoiceInvoiceStatusOVERDUE,
	invoice.StatusPaid:      api.InvoiceInvoiceStatusSTATUSPAID,
	invoice.StatusRefunded:  api.InvoiceInvoiceStatusSTATUSREFUNDED,
	invoice.StatusCancelled: api.InvoiceInvoiceStatusSTATUSCANCELLED,
}

// ListInvoices lists the tenant's invoices, newest period first, the
// running month as a pending one.
func (s *Server) ListInvoices(ctx context.Context, req api.ListInvoicesRequestObject) (api.ListInvoicesResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	limit := 0
	if req.Params.Limit != nil {
		limit = int(*req.Params.Limit)
	}
	list, err := s.app.Invoices.List(ctx, p.TenantID, limit)
	if err != nil {
		return nil, err
	}
	return invoiceListJSON(appendInvoiceList(make([]byte, 0, 200*len(list)+16), list)), nil
}

// DownloadInvoicePdf returns an invoice's PDF, base64-encoded: an issued
// invoice, or the draft of a pending month.
func (s *Server) DownloadInvoicePdf(ctx context.Context, req api.DownloadInvoicePdfRequestObject) (api.DownloadInvoicePdfResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	doc, err := s.app.Invoices.PDF(ctx, p.TenantName, req.Params.Name)
	if err != nil {
		return nil, err
	}
	return api.DownloadInvoicePdf200JSONResponse{Pdf: &doc}, nil
}
