// Package client is a Go client for the billing API, generated from
// openapi/billing.yaml. Do not edit; run `make generate`.
package client

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config ../../openapi/client.cfg.yaml ../../openapi/billing.yaml
