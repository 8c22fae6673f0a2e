//go:build tools

// Package tools pins the code generators, the spec tools and the linter in
// go.mod so `make generate`, `make breaking` and `make lint` are
// reproducible without a separate install step.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	_ "github.com/oasdiff/oasdiff"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
