package server

import (
	"context"

	"billing-api/gen/api"
)

// GetQuotaLimits is not served by this release yet (501).
func (s *Server) GetQuotaLimits(ctx context.Context, request api.GetQuotaLimitsRequestObject) (api.GetQuotaLimitsResponseObject, error) {
	return nil, notServed("getQuotaLimits")
}

// GetQuotaUsage is not served by this release yet (501).
func (s *Server) GetQuotaUsage(ctx context.Context, request api.GetQuotaUsageRequestObject) (api.GetQuotaUsageResponseObject, error) {
	return nil, notServed("getQuotaUsage")
}

// ListQuotas is not served by this release yet (501).
func (s *Server) ListQuotas(ctx context.Context, request api.ListQuotasRequestObject) (api.ListQuotasResponseObject, error) {
	return nil, notServed("listQuotas")
}

// CreateQuota is not served by this release yet (501).
func (s *Server) CreateQuota(ctx context.Context, request api.CreateQuotaRequestObject) (api.CreateQuotaResponseObject, error) {
	return nil, notServed("createQuota")
}

// DeleteQuota is not served by this release yet (501).
func (s *Server) DeleteQuota(ctx context.Context, request api.DeleteQuotaRequestObject) (api.DeleteQuotaResponseObject, error) {
	return nil, notServed("deleteQuota")
}

// GetQuota is not served by this release yet (501).
func (s *Server) GetQuota(ctx context.Context, request api.GetQuotaRequestObject) (api.GetQuotaResponseObject, error) {
	return nil, notServed("getQuota")
}

// ReplaceQuota is not served by this release yet (501).
func (s *Server) ReplaceQuota(ctx context.Context, request api.ReplaceQuotaRequestObject) (api.ReplaceQuotaResponseObject, error) {
	return nil, notServed("replaceQuota")
}
