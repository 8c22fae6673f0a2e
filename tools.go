//go:build tools

// Package tools pins the code generators in go.mod so `make generate` is
// reproducible without a separate install step.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
)
