package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"billing-api/gen/api"
	"billing-api/server/tenancy"
)

// limitsPath is a read operation; quotasPath takes writes.
const (
	limitsPath = "/api/web/namespaces/system/quota/limits"
	quotasPath = "/api/web/namespaces/system/quotas"
	quotaBody  = `{"metadata":{"name":"q1"},"spec":{}}`
)

func TestTenantAPIRejectsMissingAndBadTokens(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	good := v.tenant("acme")
	for name, header := range map[string]string{
		"no header":       "",
		"wrong scheme":    "Bearer " + good,
		"unknown token":   "APIToken bapi_" + strings.Repeat("A", 43),
		"garbage":         "APIToken hello",
		"operator token":  "APIToken " + testAdminToken,
		"scheme only":     "APIToken",
		"operator bearer": "Bearer " + testAdminToken,
	} {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if header != "" {
				h.Set("Authorization", header)
			}
			res := v.sr.do(t, v.e, http.MethodGet, limitsPath, nil, h)
			if res.Status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", res.Status, res.Body)
			}
			if eb := res.errorBody(t); eb.Code != api.EPERMS {
				t.Errorf("code %s, want EPERMS", eb.Code)
			}
		})
	}
	// The scheme is case-insensitive, as in HTTP.
	h := http.Header{}
	h.Set("Authorization", "apitoken "+good)
	if res := v.sr.do(t, v.e, http.MethodGet, limitsPath, nil, h); res.Status != http.StatusOK {
		t.Fatalf("lower-case scheme: %d %s, want 200", res.Status, res.Body)
	}
}

func TestRevokedTokenStopsAtOnce(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme")
	tok, secret, err := v.tenancy.IssueToken(context.Background(), tenancy.IssueTokenInput{TenantName: "acme", Name: "short-lived", Role: tenancy.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if res := v.call(http.MethodGet, limitsPath, secret, nil); res.Status != http.StatusOK {
		t.Fatalf("fresh token: %d %s, want 200", res.Status, res.Body)
	}
	res := v.admin(http.MethodDelete, "/admin/v1/tenants/acme/tokens/"+tok.ID.String(), nil)
	if res.Status != http.StatusOK {
		t.Fatalf("revoke answered %d %s", res.Status, res.Body)
	}
	if res := v.call(http.MethodGet, limitsPath, secret, nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("revoked token answered %d, want 401", res.Status)
	}
}

func TestViewerMayReadButNotWrite(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme")
	viewer := v.token("acme", tenancy.RoleViewer)
	if res := v.call(http.MethodGet, limitsPath, viewer, nil); res.Status != http.StatusOK {
		t.Fatalf("viewer read answered %d %s, want 200", res.Status, res.Body)
	}
	// A read-only POST query is a read: it passes authorization.
	if res := v.call(http.MethodPost, "/api/web/namespaces/system/usage_details", viewer, `{}`); res.Status != http.StatusOK {
		t.Fatalf("viewer query answered %d %s, want 200", res.Status, res.Body)
	}
	res := v.call(http.MethodPost, quotasPath, viewer, quotaBody)
	if res.Status != http.StatusForbidden {
		t.Fatalf("viewer write answered %d, want 403: %s", res.Status, res.Body)
	}
	if eb := res.errorBody(t); eb.Code != api.EPERMS || !strings.Contains(eb.Message, "createQuota") {
		t.Errorf("unexpected body %+v", eb)
	}
}

func TestTokenNamespaceListIsEnforced(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme", "shop", "lab")
	shopOnly := v.token("acme", tenancy.RoleAdmin, "shop")
	if res := v.call(http.MethodGet, "/api/web/namespaces/shop/quota/limits", shopOnly, nil); res.Status != http.StatusOK {
		t.Fatalf("own namespace answered %d %s, want 200", res.Status, res.Body)
	}
	for _, path := range []string{
		"/api/web/namespaces/lab/quota/limits",
		"/api/web/namespaces/system/quota/limits",
		"/api/web/namespaces/system/usage_plans/current", // system named in the path itself
	} {
		if res := v.call(http.MethodGet, path, shopOnly, nil); res.Status != http.StatusForbidden {
			t.Errorf("%s answered %d, want 403", path, res.Status)
		}
	}
}

func TestOtherTenantsNamespacesAreNotFound(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("globex", "secret-project")
	acme := v.tenant("acme")
	mine := v.call(http.MethodGet, "/api/web/namespaces/missing/quota/limits", acme, nil)
	theirs := v.call(http.MethodGet, "/api/web/namespaces/secret-project/quota/limits", acme, nil)
	if mine.Status != http.StatusNotFound || theirs.Status != http.StatusNotFound {
		t.Fatalf("missing %d, foreign %d; want 404 for both", mine.Status, theirs.Status)
	}
	// Indistinguishable apart from the name in the message.
	m, f := mine.errorBody(t), theirs.errorBody(t)
	if m.Code != f.Code || strings.ReplaceAll(m.Message, "missing", "secret-project") != f.Message {
		t.Errorf("foreign namespace is distinguishable: %q vs %q", m.Message, f.Message)
	}
}

func TestPublicOperationNeedsNoToken(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	// Without a token the request reaches the handler (an unknown id is
	// 404); a malformed id is still validated.
	res := v.call(http.MethodGet, "/no_auth/namespaces/system/billing/plan_transition?id=8d2b7c3e-2f0a-4b8e-9a51-3c6f2d9e7a10", "", nil)
	if res.Status != http.StatusNotFound {
		t.Fatalf("public operation answered %d %s, want 404", res.Status, res.Body)
	}
	if res := v.call(http.MethodGet, "/no_auth/namespaces/system/billing/plan_transition?id=nope", "", nil); res.Status != http.StatusBadRequest {
		t.Fatalf("public operation with a bad id answered %d %s, want 400", res.Status, res.Body)
	}
}
