package server

import (
	"context"

	"billing-api/gen/api"
)

// GetCurrentPlan is not served by this release yet (501).
func (s *Server) GetCurrentPlan(ctx context.Context, request api.GetCurrentPlanRequestObject) (api.GetCurrentPlanResponseObject, error) {
	return nil, notServed("getCurrentPlan")
}

// ListUsagePlans is not served by this release yet (501).
func (s *Server) ListUsagePlans(ctx context.Context, request api.ListUsagePlansRequestObject) (api.ListUsagePlansResponseObject, error) {
	return nil, notServed("listUsagePlans")
}
