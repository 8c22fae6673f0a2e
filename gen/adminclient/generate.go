// Package adminclient is a Go client for the operator API, generated from
// openapi/admin.yaml. Do not edit; run `make generate`.
package adminclient

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen -config ../../openapi/adminclient.cfg.yaml ../../openapi/admin.yaml
