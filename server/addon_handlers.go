package server

import (
	"context"

	"billing-api/gen/api"
)

// SubscribeAddon is not served by this release yet (501).
func (s *Server) SubscribeAddon(ctx context.Context, request api.SubscribeAddonRequestObject) (api.SubscribeAddonResponseObject, error) {
	return nil, notServed("subscribeAddon")
}

// UnsubscribeAddon is not served by this release yet (501).
func (s *Server) UnsubscribeAddon(ctx context.Context, request api.UnsubscribeAddonRequestObject) (api.UnsubscribeAddonResponseObject, error) {
	return nil, notServed("unsubscribeAddon")
}

// ListSubscriptions is not served by this release yet (501).
func (s *Server) ListSubscriptions(ctx context.Context, request api.ListSubscriptionsRequestObject) (api.ListSubscriptionsResponseObject, error) {
	return nil, notServed("listSubscriptions")
}
