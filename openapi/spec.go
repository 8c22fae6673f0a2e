// Package openapi holds the project's API descriptions: billing.yaml (the
// tenant-facing Billing and Usage contract) and admin.yaml (the operator API).
// The files are embedded so the server validates against, and serves, them
// byte for byte.
package openapi

import _ "embed"

// BillingYAML is openapi/billing.yaml as written.
//
//go:embed billing.yaml
var BillingYAML []byte

// AdminYAML is openapi/admin.yaml as written.
//
//go:embed admin.yaml
var AdminYAML []byte
