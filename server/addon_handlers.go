package server

import (
	"context"
	"reflect"
	"strings"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"billing-api/gen/api"
	"billing-api/server/fault"
	"billing-api/server/invoice"
	"billing-api/server/period"
	"billing-api/server/subscription"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// wireSubscriptions builds add-on subscriptions; they are counted objects
// (kind subscription), created through the quota room check.
func wireSubscriptions(a *App) error {
	repo := store.NewSubscriptions(a.DB)
	a.Subscriptions = subscription.NewService(repo, a.Plans, a.Quotas.CreateCounted, a.Now)
	a.Quotas.CountSystemKind(subscription.KindSubscription, repo.CountActive)
	return nil
}

// chosenAddon is the one add-on field set in a subscribe or unsubscribe
// body (the request types have one optional field per add-on); none or
// several is a 400 naming them.
func chosenAddon(body any) (string, error) {
	v := reflect.ValueOf(body).Elem()
	var set, all []string
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		all = append(all, name)
		if !v.Field(i).IsNil() {
			set = append(set, name)
		}
	}
	switch len(set) {
	case 1:
		return set[0], nil
	case 0:
		return "", fault.InvalidField("body", "oneOf", "set exactly one add-on field: "+strings.Join(all, ", "))
	default:
		return "", fault.InvalidField(strings.Join(set, ", "), "oneOf", "set exactly one add-on field, not "+strings.Join(set, " and "))
	}
}

// onAddon runs op for the principal on the one add-on the body names.
func (s *Server) onAddon(ctx context.Context, body any, op func(context.Context, tenancy.Principal, string) error) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	addon, err := chosenAddon(body)
	if err != nil {
		return err
	}
	return op(ctx, p, addon)
}

// SubscribeAddon subscribes the tenant to one add-on.
func (s *Server) SubscribeAddon(ctx context.Context, req api.SubscribeAddonRequestObject) (api.SubscribeAddonResponseObject, error) {
	err := s.onAddon(ctx, req.Body, func(ctx context.Context, p tenancy.Principal, addon string) error {
		_, err := s.app.Subscriptions.Subscribe(ctx, p, addon)
		return err
	})
	if err != nil {
		return nil, err
	}
	return api.SubscribeAddon200JSONResponse{}, nil
}

// UnsubscribeAddon cancels the tenant's subscription to one add-on.
func (s *Server) UnsubscribeAddon(ctx context.Context, req api.UnsubscribeAddonRequestObject) (api.UnsubscribeAddonResponseObject, error) {
	if err := s.onAddon(ctx, req.Body, s.app.Subscriptions.Unsubscribe); err != nil {
		return nil, err
	}
	return api.UnsubscribeAddon200JSONResponse{}, nil
}

// ListSubscriptions lists the tenant's add-on subscriptions.
func (s *Server) ListSubscriptions(ctx context.Context, req api.ListSubscriptionsRequestObject) (api.ListSubscriptionsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	subs, err := s.app.Subscriptions.List(ctx, p, deref(req.Params.Current))
	if err != nil {
		return nil, err
	}
	// The invoices of past periods are read once, and only when some
	// subscription has a past period.
	var numbers map[period.Month]string
	invoiceOf := func(m period.Month) (string, bool, error) {
		if numbers == nil {
			if numbers, err = s.app.Invoices.Numbers(ctx, p.TenantID); err != nil {
				return "", false, err
			}
		}
		n, ok := numbers[m]
		return n, ok, nil
	}
	out := make([]api.SubscriptionSubscriptionType, len(subs))
	for i, sub := range subs {
		if out[i], err = s.wireSubscription(sub, invoiceOf); err != nil {
			return nil, err
		}
	}
	return api.ListSubscriptions200JSONResponse{Subscriptions: &out}, nil
}

// wireSubscription maps a listed subscription; invoiceOf names the issued
// invoice of the month a past period lies in.
func (s *Server) wireSubscription(l subscription.Listed, invoiceOf func(period.Month) (string, bool, error)) (api.SubscriptionSubscriptionType, error) {
	w := api.SubscriptionSubscriptionType{
		Name: ptr(l.Addon), PlanName: ptr(l.Plan), PlanObjectName: ptr(l.Addon),
		Current: ptr(l.Active()), Cancelled: ptr(!l.Active()), CancellationDate: l.CancelledAt,
	}
	if l.Included {
		return w, nil
	}
	w.StartDate = ptr(l.StartedAt)
	periods := s.app.Subscriptions.Periods(l.Subscription)
	if n := len(periods); n > 0 {
		w.LastBillingPeriodStartDate, w.LastBillingPeriodEndDate = ptr(periods[n-1].Start), ptr(periods[n-1].End)
		prev := make([]api.SubscriptionPeriod, n-1)
		for i, pd := range periods[:n-1] {
			closed, pending := []string{}, []string{}
			m := period.Of(pd.Start)
			number, ok, err := invoiceOf(m)
			switch {
			case err != nil:
				return w, err
			case ok:
				closed = append(closed, number)
			default:
				pending = append(pending, invoice.PendingName(m))
			}
			prev[i] = api.SubscriptionPeriod{
				Uid: ptr(openapi_types.UUID(pd.ID)), StartDate: ptr(pd.Start), EndDate: ptr(pd.End), Trial: ptr(false),
				Invoices: ptr(append(append([]string{}, closed...), pending...)), ClosedInvoice: &closed, PendingInvoice: &pending,
			}
		}
		w.PreviousBillingPeriods = &prev
	}
	return w, nil
}
