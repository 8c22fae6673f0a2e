package server

import (
	"context"

	"billing-api/gen/api"
)

// MakePaymentMethodPrimary is not served by this release yet (501).
func (s *Server) MakePaymentMethodPrimary(ctx context.Context, request api.MakePaymentMethodPrimaryRequestObject) (api.MakePaymentMethodPrimaryResponseObject, error) {
	return nil, notServed("makePaymentMethodPrimary")
}

// MakePaymentMethodSecondary is not served by this release yet (501).
func (s *Server) MakePaymentMethodSecondary(ctx context.Context, request api.MakePaymentMethodSecondaryRequestObject) (api.MakePaymentMethodSecondaryResponseObject, error) {
	return nil, notServed("makePaymentMethodSecondary")
}

// SwapPaymentMethodRole is not served by this release yet (501).
func (s *Server) SwapPaymentMethodRole(ctx context.Context, request api.SwapPaymentMethodRoleRequestObject) (api.SwapPaymentMethodRoleResponseObject, error) {
	return nil, notServed("swapPaymentMethodRole")
}

// CreatePaymentMethod is not served by this release yet (501).
func (s *Server) CreatePaymentMethod(ctx context.Context, request api.CreatePaymentMethodRequestObject) (api.CreatePaymentMethodResponseObject, error) {
	return nil, notServed("createPaymentMethod")
}

// DeletePaymentMethod is not served by this release yet (501).
func (s *Server) DeletePaymentMethod(ctx context.Context, request api.DeletePaymentMethodRequestObject) (api.DeletePaymentMethodResponseObject, error) {
	return nil, notServed("deletePaymentMethod")
}
