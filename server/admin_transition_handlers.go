package server

import (
	"context"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"billing-api/gen/admin"
	"billing-api/server/transition"
)

// TransitionToAdmin is a transition as the operator API (and CLI) shows it.
func TransitionToAdmin(t transition.Transition) admin.PlanTransition {
	r := t.Request
	return admin.PlanTransition{
		Id: openapi_types.UUID(t.ID), TenantId: openapi_types.UUID(t.TenantID), FromPlan: t.FromPlan, ToPlan: t.ToPlan,
		State: admin.TransitionState(t.State), Reason: t.Reason, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		SubscribeAddonServices: nonNilSlice(r.SubscribeAddons), UnsubscribeAddonServices: nonNilSlice(r.UnsubscribeAddons),
		CreateSupportTicket: r.SupportTicket, SupportTicketInfo: r.SupportTicketInfo,
		DeletionReason: r.DeletionReason, DeletionFeedback: r.DeletionFeedback,
	}
}

// ListPlanTransitions lists transitions for the operator.
func (s *adminServer) ListPlanTransitions(ctx context.Context, req admin.ListPlanTransitionsRequestObject) (admin.ListPlanTransitionsResponseObject, error) {
	var tenantID *uuid.UUID
	if req.Params.Tenant != nil {
		t, err := s.app.Tenancy.Tenant(ctx, *req.Params.Tenant)
		if err != nil {
			return nil, err
		}
		tenantID = &t.ID
	}
	ts, err := s.app.Transitions.List(ctx, tenantID, transition.State(deref(req.Params.State)))
	if err != nil {
		return nil, err
	}
	return admin.ListPlanTransitions200JSONResponse{Transitions: nonNilSlice(mapSlice(ts, TransitionToAdmin))}, nil
}

// ApprovePlanTransition finishes a transition waiting for approval.
func (s *adminServer) ApprovePlanTransition(ctx context.Context, req admin.ApprovePlanTransitionRequestObject) (admin.ApprovePlanTransitionResponseObject, error) {
	t, err := s.app.Transitions.Approve(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return admin.ApprovePlanTransition200JSONResponse(TransitionToAdmin(t)), nil
}

// RejectPlanTransition fails a transition waiting for approval.
func (s *adminServer) RejectPlanTransition(ctx context.Context, req admin.RejectPlanTransitionRequestObject) (admin.RejectPlanTransitionResponseObject, error) {
	t, err := s.app.Transitions.Reject(ctx, req.Id, req.Body.Reason)
	if err != nil {
		return nil, err
	}
	return admin.RejectPlanTransition200JSONResponse(TransitionToAdmin(t)), nil
}
