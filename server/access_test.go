package server

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"billing-api/gen/api"
	"billing-api/openapi"
	"billing-api/server/tenancy"
)

// Who may call an operation comes from the spec alone, and a spec that is
// unclear about it stops start-up.
func TestAccessRulesComeFromTheSpec(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		access   any
		security *openapi3.SecurityRequirements
		want     string
	}{
		"unknown access":       {access: "admin", want: `x-billing-access "admin" is not read, write or public`},
		"missing access":       {access: nil, want: `x-billing-access "" is not read, write or public`},
		"public with a token":  {access: "public", want: "x-billing-access is public but the operation requires a token"},
		"no token but a write": {access: "write", security: &openapi3.SecurityRequirements{}, want: "security is [] (no token) but x-billing-access is \"write\""},
	} {
		t.Run(name, func(t *testing.T) {
			spec, err := loadSpec(openapi.BillingYAML)
			if err != nil {
				t.Fatal(err)
			}
			op := spec.Paths.Value("/api/web/namespaces/{namespace}/quota/limits").Get
			if tc.access == nil {
				delete(op.Extensions, "x-billing-access")
			} else {
				op.Extensions["x-billing-access"] = tc.access
			}
			op.Security = tc.security
			if _, err := operations(spec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("operations: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// samplePath fills a spec path template with values that route.
func samplePath(path string) string {
	return strings.NewReplacer("{namespace}", "system", "{name}", "x").Replace(path)
}

// Every operation of the spec: 401 without a token (unless public), 403
// for a viewer's write.
func TestEveryOperationChecksTokenAndRole(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme")
	viewer := v.token("acme", tenancy.RoleViewer)
	ids := make([]string, 0, len(v.app.ops))
	for id := range v.app.ops {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var writes, reads int
	for _, id := range ids {
		op := v.app.ops[id]
		path := samplePath(op.Path)
		var body any
		if op.route.Operation.RequestBody != nil {
			body = `{}`
		}
		t.Run(id, func(t *testing.T) {
			res := v.call(op.Method, path, "", body)
			if op.Access == AccessPublic {
				// A public operation answers the same with or without a token.
				if with := v.call(op.Method, path, viewer, body); res.Status == http.StatusUnauthorized || res.Status != with.Status {
					t.Fatalf("public operation: %d without a token, %d with one", res.Status, with.Status)
				}
				return
			}
			if res.Status != http.StatusUnauthorized || res.errorBody(t).Code != api.EPERMS {
				t.Fatalf("no token: %d %s, want 401", res.Status, res.Body)
			}
			if op.Access == AccessWrite {
				writes++
				res := v.call(op.Method, path, viewer, body)
				if res.Status != http.StatusForbidden || !strings.Contains(res.errorBody(t).Message, id) {
					t.Fatalf("viewer write: %d %s, want 403 naming %s", res.Status, res.Body, id)
				}
			} else {
				reads++
			}
		})
	}
	if writes != 11 || reads != 14 {
		t.Errorf("%d writes and %d reads; the spec has 11 and 14 (plus one public operation)", writes, reads)
	}
}
