package server

import (
	"context"

	"billing-api/gen/api"
)

// GetUsageSummary is not served by this release yet (501).
func (s *Server) GetUsageSummary(ctx context.Context, request api.GetUsageSummaryRequestObject) (api.GetUsageSummaryResponseObject, error) {
	return nil, notServed("getUsageSummary")
}

// ListCurrentUsage is not served by this release yet (501).
func (s *Server) ListCurrentUsage(ctx context.Context, request api.ListCurrentUsageRequestObject) (api.ListCurrentUsageResponseObject, error) {
	return nil, notServed("listCurrentUsage")
}

// ListHourlyUsageDetails is not served by this release yet (501).
func (s *Server) ListHourlyUsageDetails(ctx context.Context, request api.ListHourlyUsageDetailsRequestObject) (api.ListHourlyUsageDetailsResponseObject, error) {
	return nil, notServed("listHourlyUsageDetails")
}

// ListMonthlyUsage is not served by this release yet (501).
func (s *Server) ListMonthlyUsage(ctx context.Context, request api.ListMonthlyUsageRequestObject) (api.ListMonthlyUsageResponseObject, error) {
	return nil, notServed("listMonthlyUsage")
}

// ListUsageDetails is not served by this release yet (501).
func (s *Server) ListUsageDetails(ctx context.Context, request api.ListUsageDetailsRequestObject) (api.ListUsageDetailsResponseObject, error) {
	return nil, notServed("listUsageDetails")
}
