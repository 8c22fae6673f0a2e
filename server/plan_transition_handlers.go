package server

import (
	"context"

	"billing-api/gen/api"
)

// InitiatePlanTransition is not served by this release yet (501).
func (s *Server) InitiatePlanTransition(ctx context.Context, request api.InitiatePlanTransitionRequestObject) (api.InitiatePlanTransitionResponseObject, error) {
	return nil, notServed("initiatePlanTransition")
}

// GetPlanTransition is not served by this release yet (501).
func (s *Server) GetPlanTransition(ctx context.Context, request api.GetPlanTransitionRequestObject) (api.GetPlanTransitionResponseObject, error) {
	return nil, notServed("getPlanTransition")
}
