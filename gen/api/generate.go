// Package api is generated from openapi/billing.yaml: the strict Echo server
// interface, the wire types and the embedded spec. Do not edit; run `make generate`.
package api

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config ../../openapi/api.cfg.yaml ../../openapi/billing.yaml
