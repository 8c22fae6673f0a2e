package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"billing-api/gen/admin"
	"billing-api/gen/api"
)

func TestOperatorAPIManagesTenantsNamespacesAndTokens(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	res := v.admin(http.MethodPost, "/admin/v1/tenants", `{"name":"acme","display_name":"Acme Corp"}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create tenant %d %s", res.Status, res.Body)
	}
	var ten admin.Tenant
	res.decode(t, &ten)
	if ten.Name != "acme" || ten.DisplayName != "Acme Corp" {
		t.Fatalf("tenant %+v", ten)
	}
	if res := v.admin(http.MethodPost, "/admin/v1/tenants", `{"name":"acme"}`); res.Status != http.StatusConflict || res.errorBody(t).Code != api.EEXISTS {
		t.Fatalf("duplicate tenant answered %d %s", res.Status, res.Body)
	}
	if res := v.admin(http.MethodPost, "/admin/v1/tenants/acme/namespaces", `{"name":"shop"}`); res.Status != http.StatusCreated {
		t.Fatalf("create namespace %d %s", res.Status, res.Body)
	}
	var nss admin.NamespaceList
	v.admin(http.MethodGet, "/admin/v1/tenants/acme/namespaces", nil).decode(t, &nss)
	if len(nss.Namespaces) != 2 || nss.Namespaces[0].Name != "shop" || nss.Namespaces[1].Name != "system" {
		t.Fatalf("namespaces %+v", nss)
	}

	res = v.admin(http.MethodPost, "/admin/v1/tenants/acme/tokens", `{"name":"ci","role":"viewer","namespaces":["shop"]}`)
	if res.Status != http.StatusCreated {
		t.Fatalf("create token %d %s", res.Status, res.Body)
	}
	var issued admin.IssuedToken
	res.decode(t, &issued)
	if !strings.HasPrefix(issued.Secret, issued.Token.Prefix) || issued.Token.Role != admin.Viewer {
		t.Fatalf("issued %+v", issued)
	}
	// The secret works on the tenant API and is never listed.
	if r := v.call(http.MethodGet, "/api/web/namespaces/shop/quota/limits", issued.Secret, nil); r.Status != http.StatusOK {
		t.Fatalf("issued secret: %d %s, want 200", r.Status, r.Body)
	}
	list := v.admin(http.MethodGet, "/admin/v1/tenants/acme/tokens", nil)
	if strings.Contains(string(list.Body), issued.Secret) {
		t.Fatal("token list shows a secret")
	}
	if res := v.admin(http.MethodGet, "/admin/v1/tenants/nobody", nil); res.Status != http.StatusNotFound {
		t.Fatalf("missing tenant answered %d", res.Status)
	}
	if res := v.admin(http.MethodPost, "/admin/v1/tenants/acme/tokens", `{"name":"x","role":"owner"}`); res.Status != http.StatusBadRequest {
		t.Fatalf("bad role answered %d", res.Status)
	}
}

func TestOperatorAPIRefusesTenantTokens(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	for _, header := range []string{"", "APIToken " + tok, "Bearer " + tok, "Bearer wrong"} {
		h := http.Header{}
		if header != "" {
			h.Set("Authorization", header)
		}
		res := v.sr.do(t, v.e, http.MethodGet, "/admin/v1/tenants", nil, h)
		if res.Status != http.StatusUnauthorized {
			t.Errorf("%q answered %d, want 401", header, res.Status)
		}
	}
}

func TestOperatorAPIClosedWithoutAdminToken(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.AdminToken = "" })
	h := http.Header{}
	h.Set("Authorization", "Bearer ")
	res := v.sr.do(t, v.e, http.MethodGet, "/admin/v1/tenants", nil, h)
	if res.Status != http.StatusUnauthorized || !strings.Contains(res.errorBody(t).Message, "disabled") {
		t.Fatalf("answered %d %s", res.Status, res.Body)
	}
}

func TestOperatorLimitOverrides(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme")
	var o admin.LimitOverrides
	res := v.admin(http.MethodGet, "/admin/v1/tenants/acme/limit_overrides", nil)
	res.decode(t, &o)
	if res.Status != http.StatusOK || len(o.ObjectLimits)+len(o.ResourceLimits)+len(o.ApiLimits) != 0 || o.UpdatedAt != nil {
		t.Fatalf("no overrides yet: %d %s", res.Status, res.Body)
	}
	body := `{"object_limits":{"http_loadbalancer":{"maximum":-1}},"resource_limits":{"storage_gib":{"maximum":2048.5}},"api_limits":{"ves.io.schema.quota.API.List":{"rate":100,"unit":"MINUTE"}}}`
	res = v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", body)
	if res.Status != http.StatusOK {
		t.Fatalf("set: %d %s", res.Status, res.Body)
	}
	// Stored and read back as sent.
	res = v.admin(http.MethodGet, "/admin/v1/tenants/acme/limit_overrides", nil)
	var got map[string]any
	_ = json.Unmarshal(res.Body, &got)
	delete(got, "updated_at")
	if b, _ := json.Marshal(got); string(b) != `{"api_limits":{"ves.io.schema.quota.API.List":{"rate":100,"unit":"MINUTE"}},"object_limits":{"http_loadbalancer":{"maximum":-1}},"resource_limits":{"storage_gib":{"maximum":2048.5}}}` {
		t.Fatalf("read back %s", b)
	}
	for bad, want := range map[string]string{
		`{"object_limits":{"http_loadbalancer":{"maximum":-2}}}`:                             "object_limits[http_loadbalancer].maximum",
		`{"resource_limits":{"storage_gib":{"maximum":-0.5}}}`:                               "resource_limits[storage_gib].maximum",
		`{"api_limits":{"listQuotas":{"rate":0}}}`:                                           "api_limits[listQuotas].rate",
		`{"object_limits":{"x":{"maximum":1}}}`:                                              "object_limits[x]",
		`{"api_limits":{"listQuotas":{"rate":1},"ves.io.schema.quota.API.List":{"rate":2}}}`: "names the same operation",
		`{"objects":{}}`: `"objects" is unsupported`,
	} {
		res := v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", bad)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, want) {
			t.Errorf("%s: %d %s, want 400 naming %s", bad, res.Status, res.Body, want)
		}
	}
	if res := v.admin(http.MethodPut, "/admin/v1/tenants/nobody/limit_overrides", `{}`); res.Status != http.StatusNotFound {
		t.Errorf("unknown tenant: %d %s", res.Status, res.Body)
	}
	res = v.admin(http.MethodDelete, "/admin/v1/tenants/acme/limit_overrides", nil)
	res.decode(t, &o)
	if res.Status != http.StatusOK || len(o.ObjectLimits) != 0 {
		t.Fatalf("clear: %d %s", res.Status, res.Body)
	}
	v.admin(http.MethodGet, "/admin/v1/tenants/acme/limit_overrides", nil).decode(t, &o)
	if len(o.ApiLimits) != 0 || o.UpdatedAt != nil {
		t.Fatalf("after clear: %+v", o)
	}
}
