// Package admin is generated from openapi/admin.yaml: the operator API's strict
// Echo server interface, types and embedded spec. Do not edit; run `make generate`.
package admin

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config ../../openapi/admin.cfg.yaml ../../openapi/admin.yaml
