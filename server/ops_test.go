package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"billing-api/gen/api"
)

func TestHealthReadinessAndMetrics(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	if res := v.sr.do(t, v.e, http.MethodGet, "/healthz", nil, nil); res.Status != http.StatusOK {
		t.Fatalf("healthz %d", res.Status)
	}
	if res := v.sr.do(t, v.e, http.MethodGet, "/readyz", nil, nil); res.Status != http.StatusOK {
		t.Fatalf("readyz %d %s", res.Status, res.Body)
	}
	v.call(http.MethodGet, limitsPath, tok, nil)
	v.call(http.MethodGet, limitsPath, "", nil)
	res := v.sr.do(t, v.e, http.MethodGet, "/metrics", nil, nil)
	for _, want := range []string{
		`billing_http_requests_total{method="GET",operation="getQuotaLimits",status="401"} 1`,
		`billing_http_request_duration_seconds_count{method="GET",operation="getQuotaLimits",status="401"} 1`,
	} {
		if !strings.Contains(string(res.Body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestDatabaseDownAnswers503(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	if err := v.db.Close(); err != nil {
		t.Fatal(err)
	}
	res := v.sr.do(t, v.e, http.MethodGet, "/readyz", nil, nil)
	if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("readyz with the database down: %d %v", res.Status, res.Header)
	}
	res = v.call(http.MethodGet, limitsPath, tok, nil)
	if res.Status != http.StatusServiceUnavailable || res.errorBody(t).Code != api.EINTERNAL {
		t.Fatalf("API with the database down: %d %s", res.Status, res.Body)
	}
	if strings.Contains(strings.ToLower(string(res.Body)), "sql") {
		t.Errorf("503 body leaks internals: %s", res.Body)
	}
}

func TestPanicsBecome500WithRequestIDAndNoDetail(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.e.GET("/test-panic", func(echo.Context) error { panic("secret internal detail: SELECT * FROM tenants") })
	res := v.sr.do(t, v.e, http.MethodGet, "/test-panic", nil, nil)
	if res.Status != http.StatusInternalServerError {
		t.Fatalf("status %d", res.Status)
	}
	eb := res.errorBody(t)
	reqID := res.Header.Get(echo.HeaderXRequestID)
	if eb.Code != api.EINTERNAL || reqID == "" || !strings.Contains(eb.Message, reqID) {
		t.Fatalf("body %+v, request id %q", eb, reqID)
	}
	if strings.Contains(eb.Message, "secret") || strings.Contains(eb.Message, "SELECT") {
		t.Fatalf("500 body leaks detail: %s", res.Body)
	}
	// The log has the detail, tied to the request id.
	var found bool
	for _, line := range strings.Split(v.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["msg"] == "panic recovered" && rec["request_id"] == reqID && strings.Contains(rec["error"].(string), "secret internal detail") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no panic log line with request id %s:\n%s", reqID, v.logs.String())
	}
}

func TestEveryRequestIsLoggedAsJSONWithItsRequestID(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	res := v.call(http.MethodGet, limitsPath, tok, nil)
	reqID := res.Header.Get(echo.HeaderXRequestID)
	for _, line := range strings.Split(v.logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" && rec["request_id"] == reqID {
			if rec["operation"] != "getQuotaLimits" || rec["tenant"] != "acme" || rec["status"] != float64(res.Status) {
				t.Fatalf("log line %v", rec)
			}
			return
		}
	}
	t.Fatalf("no log line for request %s:\n%s", reqID, v.logs.String())
}

func TestSpecsAndSwaggerUIAreServed(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for path, want := range map[string]string{
		"/openapi.yaml":                         "openapi: 3.0.3",
		"/openapi.json":                         `"operationId":"createQuota"`,
		"/admin/openapi.json":                   `"operationId":"createTenant"`,
		"/docs/":                                "swagger-ui-bundle.js",
		"/docs/init.js":                         "../openapi.json",
		"/docs/swagger-ui/swagger-ui-bundle.js": "SwaggerUIBundle",
	} {
		res := v.sr.do(t, v.e, http.MethodGet, path, nil, nil)
		if res.Status != http.StatusOK || !strings.Contains(string(res.Body), want) {
			t.Errorf("%s: %d, body lacks %q", path, res.Status, want)
		}
	}
}

// Methods outside the standard ones share one metrics label.
func TestUnknownMethodsShareOneMetricsLabel(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	for _, m := range []string{"BREW", "PROPFIND", "X-" + strings.Repeat("A", 40)} {
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, httptest.NewRequest(m, "/healthz", nil))
	}
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if strings.Contains(body, "BREW") || strings.Contains(body, "PROPFIND") || strings.Contains(body, "X-AAAA") {
		t.Fatalf("a custom method became a label:\n%s", body)
	}
	if !regexp.MustCompile(`billing_http_requests_total\{method="OTHER",operation="[^"]*",status="\d+"\} 3`).MatchString(body) {
		t.Fatalf("no OTHER series counting the 3 requests:\n%s", body)
	}
}

// A client's X-Request-Id is kept when it is at most 64 characters of
// [A-Za-z0-9._-]; anything else is replaced by a generated id.
func TestClientRequestIDsAreKeptOnlyWhenPlain(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	plain := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	loggedWith := func(id string) bool {
		for _, line := range strings.Split(v.logs.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "request" && rec["request_id"] == id {
				return true
			}
		}
		return false
	}
	for _, id := range []string{"client-id_1.2", strings.Repeat("a", 64), "Z"} {
		res := v.sr.do(t, v.e, http.MethodGet, "/healthz", nil, http.Header{echo.HeaderXRequestID: {id}})
		if got := res.Header.Get(echo.HeaderXRequestID); got != id {
			t.Errorf("plain id %q answered as %q", id, got)
		}
		if !loggedWith(id) {
			t.Errorf("no request log line with id %q:\n%s", id, v.logs.String())
		}
	}
	for _, id := range []string{strings.Repeat("a", 65), "has space", `quote"d`, "a/b", "ünï", "line\tbreak"} {
		res := v.sr.do(t, v.e, http.MethodGet, "/healthz", nil, http.Header{echo.HeaderXRequestID: {id}})
		got := res.Header.Get(echo.HeaderXRequestID)
		if got == id || !plain.MatchString(got) {
			t.Errorf("bad id %q answered as %q", id, got)
		}
		if !loggedWith(got) {
			t.Errorf("no request log line with the replacement id %q", got)
		}
		if loggedWith(id) {
			t.Errorf("bad id %q reached the log", id)
		}
	}
}

// Once draining, /readyz fails while everything else keeps being served.
func TestDrainingFailsOnlyReadiness(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.app.StartDraining()
	res := v.sr.do(t, v.e, http.MethodGet, "/readyz", nil, nil)
	if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || res.errorBody(t).Code != api.EINTERNAL {
		t.Fatalf("readyz while draining: %d %v %s", res.Status, res.Header, res.Body)
	}
	if res := v.sr.do(t, v.e, http.MethodGet, "/healthz", nil, nil); res.Status != http.StatusOK {
		t.Fatalf("healthz while draining: %d", res.Status)
	}
	if res := v.call(http.MethodGet, limitsPath, tok, nil); res.Status != http.StatusOK {
		t.Fatalf("API while draining: %d %s", res.Status, res.Body)
	}
}

func TestSeparateMetricsLeaveTheMainHandler(t *testing.T) {
	t.Parallel()
	v := newEnvWith(t, func(c *Config) { c.SeparateMetrics = true })
	if res := v.sr.do(t, v.e, http.MethodGet, "/metrics", nil, nil); res.Status != http.StatusNotFound {
		t.Fatalf("/metrics on the main handler: %d", res.Status)
	}
}

// Go's profiles are served only when asked for, and only to the operator.
func TestProfilesNeedTheFlagAndTheOperatorToken(t *testing.T) {
	t.Parallel()
	off := newEnv(t)
	if res := off.sr.do(t, off.e, http.MethodGet, "/admin/debug/pprof/", nil, http.Header{"Authorization": {"Bearer " + testAdminToken}}); res.Status != http.StatusNotFound {
		t.Fatalf("profiles without --pprof: %d", res.Status)
	}
	on := newEnvWith(t, func(c *Config) { c.Pprof = true })
	tok := on.tenant("acme")
	for header, want := range map[string]int{
		"":                         http.StatusUnauthorized,
		"APIToken " + tok:          http.StatusUnauthorized,
		"Bearer " + testAdminToken: http.StatusOK,
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Authorization", header)
		}
		res := on.sr.do(t, on.e, http.MethodGet, "/admin/debug/pprof/", nil, h)
		if res.Status != want {
			t.Errorf("%q: %d, want %d", header, res.Status, want)
		}
		if want == http.StatusOK && !strings.Contains(string(res.Body), "goroutine") {
			t.Errorf("the profile index lacks the goroutine profile")
		}
	}
	res := on.sr.do(t, on.e, http.MethodGet, "/admin/debug/pprof/heap?debug=1", nil, http.Header{"Authorization": {"Bearer " + testAdminToken}})
	if res.Status != http.StatusOK || !strings.Contains(string(res.Body), "heap profile") {
		t.Fatalf("heap profile: %d", res.Status)
	}
}
