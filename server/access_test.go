package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"billing-api/gen/api"
	"billing-api/openapi"
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

// caller is one column of the authorization matrix: who sends the request.
type caller struct {
	name string
	// headers are the Authorization headers to try, each alone ("" for
	// none); every one must get the column's answer.
	headers func(s *seeded) []string
}

var callers = []caller{
	{"no token", func(*seeded) []string { return []string{""} }},
	{"bad token", func(*seeded) []string { return []string{"APIToken bapi_" + strings.Repeat("A", 43), "APIToken hello"} }},
	{"revoked token", func(s *seeded) []string { return []string{"APIToken " + s.revoked} }},
	{"operator token", func(*seeded) []string { return []string{"Bearer " + testAdminToken, "APIToken " + testAdminToken} }},
	{"viewer", func(s *seeded) []string { return []string{"APIToken " + s.viewer} }},
	{"token limited to another namespace", func(s *seeded) []string { return []string{"APIToken " + s.limited} }},
	{"another tenant's admin", func(s *seeded) []string { return []string{"APIToken " + s.globexAdmin} }},
	// Last: the admin's write changes the data the others must not.
	{"admin", func(s *seeded) []string { return []string{"APIToken " + s.admin} }},
}

// inAcmesNamespace is globex's admin sending acme's request in acme's
// namespace shop.
const inAcmesNamespace = "another tenant's admin in acme's namespace"

// otherTenantAnswer is what globex's admin gets sending acme's valid
// request. An object acme names (quota, payment method, invoice, the
// add-on acme has) does not exist for globex: 404, as for a missing one.
// A breakdown query signed for acme is refused (400). Everything else acts
// on globex's own data (a list is globex's, a create lands in globex) and
// must show or change nothing of acme's. The public operation answers
// anyone holding the transition id: the id is the credential.
var otherTenantAnswer = map[string]int{
	"getQuota": 404, "replaceQuota": 404, "deleteQuota": 404,
	"deletePaymentMethod": 404, "makePaymentMethodPrimary": 404, "makePaymentMethodSecondary": 404, "swapPaymentMethodRole": 404,
	"downloadInvoicePdf": 404, "unsubscribeAddon": 404,
	"listHourlyUsageDetails": 400,
}

// want is the exact status of a matrix cell.
//
// A token limited to namespaces answers 403 outside them, and the
// tenant-wide operations (the namespace is system, in the path or fixed)
// are outside every list that lacks system: such a token cannot read the
// tenant's plan, usage costs, invoices or payment methods.
func (c caller) want(id string, op operation) int {
	if op.Access == AccessPublic {
		return http.StatusOK // the token is not looked at
	}
	switch c.name {
	case "no token", "bad token", "revoked token", "operator token":
		return http.StatusUnauthorized
	case "viewer":
		if op.Access == AccessWrite {
			return http.StatusForbidden
		}
		return http.StatusOK
	case "token limited to another namespace":
		return http.StatusForbidden
	case "another tenant's admin":
		if st, ok := otherTenantAnswer[id]; ok {
			return st
		}
	case inAcmesNamespace:
		return http.StatusNotFound
	}
	return http.StatusOK
}

// For every operation of the spec and every kind of caller, the exact
// status; nobody but acme's admin changes acme's data (and acme's admin
// does, so the check can see a change), reads change nothing at all, and
// no answer to another tenant holds anything of acme's.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	ops := specOperations(t)
	var reads, writes, public int
	for _, op := range ops {
		switch op.Access {
		case AccessRead:
			reads++
		case AccessWrite:
			writes++
		default:
			public++
		}
	}
	if len(ops) != 26 || reads != 14 || writes != 11 || public != 1 {
		t.Errorf("%d operations: %d reads, %d writes, %d public; the spec has 26: 14, 11 and 1", len(ops), reads, writes, public)
	}
	for id := range otherTenantAnswer {
		if _, ok := ops[id]; !ok {
			t.Errorf("otherTenantAnswer names %s, which the spec does not have", id)
		}
	}
	for _, id := range sortedIDs(ops) {
		op := ops[id]
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			s := newSeeded(t)
			req, ok := s.validRequests()[id]
			if !ok {
				t.Fatalf("no valid request for %s: add one to validRequests", id)
			}
			if strings.Contains(op.Path, "{name}") && op.Access != AccessPublic && otherTenantAnswer[id] != http.StatusNotFound {
				t.Errorf("%s addresses an object by name: another tenant's admin must get 404", id)
			}
			for _, c := range callers {
				for _, header := range c.headers(s) {
					s.checkCell(t, id, op, req, c, header)
				}
				// Where the namespace is the caller's to choose, acme's
				// namespace shop is as missing to globex as one nobody has.
				if p := op.param(openapi3.ParameterInPath, "namespace"); c.name == "another tenant's admin" && p != nil && len(p.Schema.Value.Enum) == 0 {
					inShop := req
					inShop.path = strings.Replace(req.path, "/namespaces/system/", "/namespaces/shop/", 1)
					s.checkCell(t, id, op, inShop, caller{name: inAcmesNamespace}, "APIToken "+s.globexAdmin)
				}
			}
		})
	}
}

// checkCell sends req with one Authorization header and checks the answer
// and what it changed.
func (s *seeded) checkCell(t *testing.T, id string, op operation, req request, c caller, header string) {
	t.Helper()
	whole, acme, globex := snapshot(t, s.db, uuid.Nil), snapshot(t, s.db, s.acme), snapshot(t, s.db, s.globex)
	h := http.Header{}
	if header != "" {
		h.Set("Authorization", header)
	}
	var body any
	if req.body != "" {
		body = req.body
	}
	res := s.sr.do(t, s.e, req.method, req.path, body, h)
	want := c.want(id, op)
	if res.Status != want {
		t.Fatalf("%s: %d %s, want %d", c.name, res.Status, res.Body, want)
	}
	if res.Status >= 400 {
		e := res.errorBody(t)
		wantCode := map[int]api.SchemaErrorCode{400: api.EBADINPUT, 401: api.EPERMS, 403: api.EPERMS, 404: api.ENOTFOUND}[res.Status]
		if e.Code != wantCode {
			t.Errorf("%s: code %s, want %s", c.name, e.Code, wantCode)
		}
		assertClean(t, e.Message)
		if c.name == "viewer" && !strings.Contains(e.Message, id) {
			t.Errorf("viewer: %q does not name %s", e.Message, id)
		}
		if c.name == "token limited to another namespace" && !strings.Contains(e.Message, `namespace "system"`) {
			t.Errorf("limited token: %q does not name the namespace", e.Message)
		}
	}
	changedAcme := acme.changes(snapshot(t, s.db, s.acme))
	switch {
	case c.name == "admin" && op.Access == AccessWrite:
		if len(changedAcme) == 0 {
			t.Errorf("admin: %s changed none of acme's rows", id)
		}
	case strings.HasPrefix(c.name, "another tenant's admin"):
		if len(changedAcme) > 0 {
			t.Errorf("%s: changed acme's %v", c.name, changedAcme)
		}
		for _, secret := range s.secrets {
			// A 404 may repeat the name asked for: that is no leak.
			if strings.Contains(string(res.Body), secret) && !strings.Contains(req.path+req.body, secret) {
				t.Errorf("%s: the answer holds acme's %q: %s", c.name, secret, res.Body)
			}
		}
		// A write globex may make lands in globex.
		if op.Access == AccessWrite && res.Status == http.StatusOK && len(globex.changes(snapshot(t, s.db, s.globex))) == 0 {
			t.Errorf("%s: %s answered 200 but changed none of globex's rows", c.name, id)
		}
	default:
		if changed := whole.changes(snapshot(t, s.db, uuid.Nil)); len(changed) > 0 {
			t.Errorf("%s: %s (%d) changed %v", c.name, id, res.Status, changed)
		}
	}
}
