package server

import (
	"context"
	"time"

	"github.com/google/uuid"

	"billing-api/gen/admin"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/money"
)

func adminAmount(a money.Amount) admin.MinorUnits { return a.String() }

// invoiceSummaryToAdmin is an invoice as the operator API lists it, with
// its status as read at now (OVERDUE is derived).
func invoiceSummaryToAdmin(tenant string, inv invoice.Invoice, now time.Time) admin.InvoiceSummary {
	return admin.InvoiceSummary{
		Tenant: tenant, Number: inv.Number, Period: inv.Period.String(),
		PeriodStart: inv.Period.Start(), PeriodEnd: inv.Period.End(),
		Status: admin.InvoiceStatus(inv.StatusAt(now)), StatusAt: inv.StatusSince, StatusReason: inv.StatusReason,
		Subtotal: adminAmount(inv.Subtotal), Discount: adminAmount(inv.Discount), Total: adminAmount(inv.Total), Currency: inv.Currency,
		IssuedAt: inv.IssuedAt, DueAt: inv.DueAt, CollectionRound: int32(inv.Round), Collecting: inv.Collecting,
	}
}

// invoiceDetailToAdmin maps what the operator reads of one invoice. The
// payment token is not copied: it is for charging, never for showing.
func invoiceDetailToAdmin(d invoice.Detail, now time.Time) admin.InvoiceDetail {
	out := admin.InvoiceDetail{
		Invoice:   invoiceSummaryToAdmin(d.Tenant, d.Invoice, now),
		Lines:     make([]admin.InvoiceLine, len(d.Lines)),
		Payments:  make([]admin.InvoicePayment, len(d.Payments)),
		LateUsage: make(map[string]string, len(d.Late)),
	}
	for i, l := range d.Lines {
		out.Lines[i] = admin.InvoiceLine{
			Kind: admin.InvoiceLineKind(l.Kind), Description: l.Description, Quantity: l.Quantity,
			UnitPrice: adminAmount(l.UnitPrice), Amount: adminAmount(l.Amount),
		}
	}
	for i, p := range d.Payments {
		out.Payments[i] = admin.InvoicePayment{
			Kind: admin.InvoicePaymentKind(p.Kind), Round: int32(p.Round), MethodName: p.MethodName,
			MethodRole: admin.InvoicePaymentMethodRole(p.MethodRole), Amount: adminAmount(p.Amount),
			Outcome: admin.InvoicePaymentOutcome(p.Outcome), Reference: p.Reference, Detail: p.Detail,
			CreatedAt: p.CreatedAt, FinishedAt: p.FinishedAt,
		}
	}
	for usageType, q := range d.Late {
		out.LateUsage[usageType] = q.String()
	}
	return out
}

func invoiceRunToAdmin(r invoice.Run) admin.InvoiceRun {
	return admin.InvoiceRun{
		Period: r.Period.String(), Owner: r.Owner, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, Issued: int32(r.Issued), Failed: int32(r.Failed),
	}
}

// closeErrorText is what the operator is shown of why closing (or
// collecting) a tenant's month failed: the error when it is classified, a
// pointer to the log when it is internal (whose detail is never shown).
func closeErrorText(err error) string {
	if fault.KindOf(err) == fault.KindInternal {
		return "internal error; the server log has the detail"
	}
	return err.Error()
}

// TenantNames names the tenants that invs belong to, through the tenancy
// service (the invoice store never joins another domain's tables).
func (a *App) TenantNames(ctx context.Context, invs []invoice.Invoice) (map[uuid.UUID]string, error) {
	names := make(map[uuid.UUID]string, len(invs))
	if len(invs) == 0 {
		return names, nil
	}
	for _, inv := range invs {
		names[inv.TenantID] = ""
	}
	ts, err := a.Tenancy.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if _, named := names[t.ID]; named {
			names[t.ID] = t.Name
		}
	}
	return names, nil
}
