//go:build tools

// Package tools pins the code generators and the spec tools in go.mod so
// `make generate` and `make breaking` are reproducible without a separate
// install step.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	_ "github.com/oasdiff/oasdiff"
)
