package server

import (
	"fmt"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Access is who may call an operation, from the spec's x-billing-access.
type Access string

const (
	AccessRead   Access = "read"
	AccessWrite  Access = "write"
	AccessPublic Access = "public"
)

// operation is what the middleware needs to know about one spec operation.
type operation struct {
	ID     string
	Method string
	Path   string
	Access Access
	// VendorID is the vendor's RPC name (x-vendor-operation-id).
	VendorID string
	// FixedNamespace is set when the path names the namespace literally
	// (/namespaces/system/...); otherwise the namespace is the path parameter.
	FixedNamespace string
}

// operations reads every operation of a spec.
func operations(spec *openapi3.T) (map[string]operation, error) {
	out := map[string]operation{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := operation{ID: op.OperationID, Method: method, Path: path, Access: AccessWrite}
			if v, ok := op.Extensions["x-billing-access"].(string); ok {
				o.Access = Access(v)
			}
			if v, ok := op.Extensions["x-vendor-operation-id"].(string); ok {
				o.VendorID = v
			}
			if strings.Contains(path, "/namespaces/system/") {
				o.FixedNamespace = "system"
			}
			if o.ID == "" {
				return nil, fmt.Errorf("%s %s has no operationId", method, path)
			}
			out[o.ID] = o
		}
	}
	return out, nil
}
