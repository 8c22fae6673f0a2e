package server

import (
	"context"

	"billing-api/gen/api"
)

// DownloadInvoicePdf is not served by this release yet (501).
func (s *Server) DownloadInvoicePdf(ctx context.Context, request api.DownloadInvoicePdfRequestObject) (api.DownloadInvoicePdfResponseObject, error) {
	return nil, notServed("downloadInvoicePdf")
}

// ListInvoices is not served by this release yet (501).
func (s *Server) ListInvoices(ctx context.Context, request api.ListInvoicesRequestObject) (api.ListInvoicesResponseObject, error) {
	return nil, notServed("listInvoices")
}
