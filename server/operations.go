package server

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
)

// Access is who may call an operation, from the spec's x-billing-access.
type Access string

const (
	AccessRead   Access = "read"
	AccessWrite  Access = "write"
	AccessPublic Access = "public"
	// AccessOperator marks the operator API's operations (operator token).
	AccessOperator Access = "operator"
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
	// namespaceParam is the {namespace} path parameter, if the path has one.
	namespaceParam *openapi3.Parameter
	// route is the spec operation, for request validation.
	route *routers.Route
	// pathParams are the names in the path template, in order.
	pathParams []string
	// MaxBody caps the request body: maxBodyBytes, unless the spec raises it
	// for the operation with x-max-body-bytes (bulk ingestion).
	MaxBody int64
}

// bodySchema is the JSON schema of the request body (nil without one).
func (o operation) bodySchema() *openapi3.Schema {
	rb := o.route.Operation.RequestBody
	if rb == nil || rb.Value == nil {
		return nil
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return nil
	}
	return mt.Schema.Value
}

// param is the operation's parameter named name in location in.
func (o operation) param(in, name string) *openapi3.Parameter {
	for _, ps := range []openapi3.Parameters{o.route.PathItem.Parameters, o.route.Operation.Parameters} {
		if p := ps.GetByInAndName(in, name); p != nil {
			return p
		}
	}
	return nil
}

var templateParam = regexp.MustCompile(`\{([^}]+)\}`)

// operations reads every operation of the tenant API's spec. Who may call
// an operation comes from the spec alone: it is public exactly when its
// security is `[]`, and its x-billing-access must say so; anything unknown
// or contradictory stops start-up.
func operations(spec *openapi3.T) (map[string]operation, error) {
	return readOperations(spec, func(op *openapi3.Operation, where string) (Access, error) {
		v, _ := op.Extensions["x-billing-access"].(string)
		access := Access(v)
		public := op.Security != nil && len(*op.Security) == 0
		switch {
		case access != AccessRead && access != AccessWrite && access != AccessPublic:
			return "", fmt.Errorf("%s: x-billing-access %q is not read, write or public", where, v)
		case public && access != AccessPublic:
			return "", fmt.Errorf("%s: security is [] (no token) but x-billing-access is %q", where, v)
		case !public && access == AccessPublic:
			return "", fmt.Errorf("%s: x-billing-access is public but the operation requires a token", where)
		}
		return access, nil
	})
}

// operatorOperations reads the operator API's spec, where every operation
// needs the operator token.
func operatorOperations(spec *openapi3.T) (map[string]operation, error) {
	return readOperations(spec, func(op *openapi3.Operation, where string) (Access, error) {
		if op.Security != nil && len(*op.Security) == 0 {
			return "", fmt.Errorf("%s: operator operations cannot be public", where)
		}
		return AccessOperator, nil
	})
}

func readOperations(spec *openapi3.T, access func(*openapi3.Operation, string) (Access, error)) (map[string]operation, error) {
	out := map[string]operation{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				return nil, fmt.Errorf("%s has no operationId", where)
			}
			a, err := access(op, where)
			if err != nil {
				return nil, err
			}
			o := operation{
				ID: op.OperationID, Method: method, Path: path, Access: a,
				route: &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
			}
			o.VendorID, _ = op.Extensions["x-vendor-operation-id"].(string)
			o.MaxBody = maxBodyBytes
			if v, ok := op.Extensions["x-max-body-bytes"]; ok {
				n, isNum := v.(float64)
				if !isNum || n < maxBodyBytes || n > 64<<20 || n != float64(int64(n)) {
					return nil, fmt.Errorf("%s: x-max-body-bytes must be a whole number from %d to %d", where, maxBodyBytes, 64<<20)
				}
				o.MaxBody = int64(n)
			}
			for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
				o.pathParams = append(o.pathParams, m[1])
			}
			if strings.Contains(path, "/namespaces/system/") {
				o.FixedNamespace = "system"
			}
			o.namespaceParam = o.param(openapi3.ParameterInPath, "namespace")
			out[o.ID] = o
		}
	}
	return out, nil
}

// apiKeys maps each operation's vendor RPC name to its operation id: the
// two spellings of one API limit key.
type apiKeys map[string]string

func newAPIKeys(ops map[string]operation) apiKeys {
	k := apiKeys{}
	for id, op := range ops {
		if op.VendorID != "" {
			k[op.VendorID] = id
		}
	}
	return k
}

func (k apiKeys) Canonical(key string) string {
	if id, ok := k[key]; ok {
		return id
	}
	return key
}
