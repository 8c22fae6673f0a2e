package server

import (
	"context"

	"billing-api/gen/admin"
	"billing-api/server/fault"
	"billing-api/server/invoice"
)

// defaultInvoicePage is how many invoices, or runs, a listing returns when
// the operator gives no limit.
const defaultInvoicePage = 100

// CloseInvoicePeriod closes a month for one tenant or all.
func (s *adminServer) CloseInvoicePeriod(ctx context.Context, req admin.CloseInvoicePeriodRequestObject) (admin.CloseInvoicePeriodResponseObject, error) {
	m, err := invoice.PeriodOf("period", req.Body.Period)
	if err != nil {
		return nil, err
	}
	res, err := s.app.Invoices.ClosePeriod(ctx, m, deref(req.Body.Tenant))
	if err != nil {
		return nil, err
	}
	now := s.app.Invoices.Now()
	out := admin.InvoicePeriodClosed{Period: m.String(), Results: make([]admin.TenantClose, len(res))}
	for i, r := range res {
		tc := admin.TenantClose{Tenant: r.Tenant, Outcome: admin.TenantCloseOutcome(r.Outcome)}
		if r.Invoice != nil {
			tc.Invoice = ptr(invoiceSummaryToAdmin(r.Tenant, *r.Invoice, now))
		}
		if r.Err != nil {
			s.app.Log.WarnContext(ctx, "closing a tenant's month failed", "tenant", r.Tenant, "period", out.Period,
				"outcome", string(r.Outcome), "error", fault.Detail(r.Err))
			tc.Error = ptr(closeErrorText(r.Err))
		}
		out.Results[i] = tc
	}
	return admin.CloseInvoicePeriod200JSONResponse(out), nil
}

// FindInvoices lists issued invoices of every tenant or one.
func (s *adminServer) FindInvoices(ctx context.Context, req admin.FindInvoicesRequestObject) (admin.FindInvoicesResponseObject, error) {
	f := invoice.Filter{Status: invoice.Status(deref(req.Params.Status)), Limit: defaultInvoicePage}
	if req.Params.Limit != nil {
		f.Limit = int(*req.Params.Limit)
	}
	if req.Params.Period != nil {
		p, err := invoice.PeriodOf("query parameter period", *req.Params.Period)
		if err != nil {
			return nil, err
		}
		f.Period = &p
	}
	invs, err := s.app.Invoices.Find(ctx, deref(req.Params.Tenant), f)
	if err != nil {
		return nil, err
	}
	names, err := s.app.TenantNames(ctx, invs)
	if err != nil {
		return nil, err
	}
	now := s.app.Invoices.Now()
	out := make([]admin.InvoiceSummary, len(invs))
	for i, inv := range invs {
		out[i] = invoiceSummaryToAdmin(names[inv.TenantID], inv, now)
	}
	return admin.FindInvoices200JSONResponse{Invoices: out}, nil
}

// GetInvoice reads one invoice with its lines, payments and late usage.
func (s *adminServer) GetInvoice(ctx context.Context, req admin.GetInvoiceRequestObject) (admin.GetInvoiceResponseObject, error) {
	d, err := s.invoiceDetail(ctx, req.Tenant, req.Number)
	if err != nil {
		return nil, err
	}
	return admin.GetInvoice200JSONResponse(d), nil
}

// RetryInvoice collects an unpaid invoice again.
func (s *adminServer) RetryInvoice(ctx context.Context, req admin.RetryInvoiceRequestObject) (admin.RetryInvoiceResponseObject, error) {
	if _, err := s.app.Invoices.Retry(ctx, req.Tenant, req.Number); err != nil {
		return nil, err
	}
	d, err := s.invoiceDetail(ctx, req.Tenant, req.Number)
	if err != nil {
		return nil, err
	}
	return admin.RetryInvoice200JSONResponse(d), nil
}

// RecordInvoicePayment marks an unpaid invoice paid outside the provider.
func (s *adminServer) RecordInvoicePayment(ctx context.Context, req admin.RecordInvoicePaymentRequestObject) (admin.RecordInvoicePaymentResponseObject, error) {
	if _, err := s.app.Invoices.RecordPayment(ctx, req.Tenant, req.Number, req.Body.Reference); err != nil {
		return nil, err
	}
	d, err := s.invoiceDetail(ctx, req.Tenant, req.Number)
	if err != nil {
		return nil, err
	}
	return admin.RecordInvoicePayment200JSONResponse(d), nil
}

// RefundInvoice gives back a paid invoice's payment.
func (s *adminServer) RefundInvoice(ctx context.Context, req admin.RefundInvoiceRequestObject) (admin.RefundInvoiceResponseObject, error) {
	if _, err := s.app.Invoices.Refund(ctx, req.Tenant, req.Number, deref(req.Body.Reason)); err != nil {
		return nil, err
	}
	d, err := s.invoiceDetail(ctx, req.Tenant, req.Number)
	if err != nil {
		return nil, err
	}
	return admin.RefundInvoice200JSONResponse(d), nil
}

// CancelInvoice voids an unpaid invoice.
func (s *adminServer) CancelInvoice(ctx context.Context, req admin.CancelInvoiceRequestObject) (admin.CancelInvoiceResponseObject, error) {
	if _, err := s.app.Invoices.Cancel(ctx, req.Tenant, req.Number, deref(req.Body.Reason)); err != nil {
		return nil, err
	}
	d, err := s.invoiceDetail(ctx, req.Tenant, req.Number)
	if err != nil {
		return nil, err
	}
	return admin.CancelInvoice200JSONResponse(d), nil
}

// ListInvoiceRuns lists the scheduler's runs and when the next month is due.
func (s *adminServer) ListInvoiceRuns(ctx context.Context, req admin.ListInvoiceRunsRequestObject) (admin.ListInvoiceRunsResponseObject, error) {
	limit := defaultInvoicePage
	if req.Params.Limit != nil {
		limit = int(*req.Params.Limit)
	}
	runs, err := s.app.Invoices.Runs(ctx, limit)
	if err != nil {
		return nil, err
	}
	return admin.ListInvoiceRuns200JSONResponse{
		Runs: nonNilSlice(mapSlice(runs, invoiceRunToAdmin)), NextDue: s.app.Invoices.NextDue(),
	}, nil
}

// invoiceDetail is the operator's view of a tenant's invoice, read now.
func (s *adminServer) invoiceDetail(ctx context.Context, tenant, number string) (admin.InvoiceDetail, error) {
	d, err := s.app.Invoices.Detail(ctx, tenant, number)
	if err != nil {
		return admin.InvoiceDetail{}, err
	}
	return invoiceDetailToAdmin(d, s.app.Invoices.Now()), nil
}
