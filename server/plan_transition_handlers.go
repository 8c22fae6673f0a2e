package server

import (
	"context"

	"billing-api/gen/api"
	"billing-api/server/payment"
	"billing-api/server/transition"
	"billing-api/store"
)

// wireTransitions builds plan transitions on the plan, payment and
// subscription domains.
func wireTransitions(a *App) error {
	a.Transitions = transition.NewService(store.NewTransitions(a.DB), transition.Deps{
		Plans: a.Plans, Payments: a.Payments, Addons: a.Subscriptions,
	}, a.Now)
	return nil
}

// contactFromSchema reads the payload's contact: the schema's own type has
// the payment contact's fields exactly, so it converts.
func contactFromSchema(c *api.SchemacontactGlobalSpecType) *payment.Contact {
	return contactFromWire((*api.ContactGlobalSpecType)(c))
}

// deletionReasonFromWire keeps a reason given; REASON_UNKNOWN is what a
// client that writes unset fields sends for none.
func deletionReasonFromWire(r *api.TenantDeletionReason) string {
	if r == nil || *r == api.REASONUNKNOWN {
		return ""
	}
	return string(*r)
}

// InitiatePlanTransition starts a move to another plan.
func (s *Server) InitiatePlanTransition(ctx context.Context, req api.InitiatePlanTransitionRequestObject) (api.InitiatePlanTransitionResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	var in transition.Payload
	if pl := req.Body.Payload; pl != nil {
		in = transition.Payload{
			PaymentToken: deref(pl.PaymentProviderToken), BillingAddress: contactFromSchema(pl.BillingAddress),
			PaymentAddress: contactFromSchema(pl.PaymentAddress), Domain: deref(pl.Domain),
			Request: transition.Request{
				SubscribeAddons:   mapSlice(deref(pl.SubscribeAddonServices), func(a api.PlanTransitionTransitionPayloadSubscribeAddonServices) string { return string(a) }),
				UnsubscribeAddons: mapSlice(deref(pl.UnsubscribeAddonServices), func(a api.PlanTransitionTransitionPayloadUnsubscribeAddonServices) string { return string(a) }),
				SupportTicket:     deref(pl.CreateSupportTicket), SupportTicketInfo: deref(pl.SupportTicketInfo),
				DeletionReason: deletionReasonFromWire(pl.DeletionReason), DeletionFeedback: deref(pl.DeletionFeedback),
			},
		}
	}
	t, err := s.app.Transitions.Initiate(ctx, p, req.Body.NewPlan, in)
	if err != nil {
		return nil, err
	}
	return api.InitiatePlanTransition200JSONResponse{Id: t.ID.String(), RequiresManualApproval: ptr(t.State == transition.WaitingForApproval)}, nil
}

var wireTransitionState = map[transition.State]api.PlanTransitionState{
	transition.Creating: api.PlanTransitionStateSTATECREATING, transition.WaitingForApproval: api.PlanTransitionStateSTATEWAITINGFORAPPROVAL,
	transition.Finished: api.PlanTransitionStateSTATEFINISHED, transition.Failed: api.PlanTransitionStateSTATEFAILED,
}

// GetPlanTransition answers a transition's state to anyone holding its id.
func (s *Server) GetPlanTransition(ctx context.Context, req api.GetPlanTransitionRequestObject) (api.GetPlanTransitionResponseObject, error) {
	state, err := s.app.Transitions.State(ctx, req.Params.Id)
	if err != nil {
		return nil, err
	}
	return api.GetPlanTransition200JSONResponse{State: wireTransitionState[state]}, nil
}
