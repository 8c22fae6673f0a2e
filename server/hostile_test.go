package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// internals are words that would show a client how the server is built.
var internals = []string{"json:", "json.", "Go ", "struct", "offset", "float64", "int64 ", "reflect", "<nil>", "openapi3", "kin-openapi", "Schema:", "SQLSTATE", "pq:", "sqlite", "gorm"}

func assertClean(t *testing.T, msg string) {
	t.Helper()
	for _, w := range internals {
		if strings.Contains(msg, w) {
			t.Errorf("message exposes %q: %s", w, msg)
		}
	}
}

// Input no store keeps faithfully, and numbers out of range, answer 400
// naming the field, identically on SQLite and PostgreSQL, and change
// nothing.
func TestHostileInputAnswers400AndChangesNothing(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme", "shop")
	v.admin(http.MethodPut, "/admin/v1/tenants/acme/limit_overrides", `{"api_limits":{"createQuota":{"rate":100000},"listQuotas":{"rate":100000},"getQuotaLimits":{"rate":100000}}}`)
	quota := func(meta, spec string) string {
		return `{"metadata":{"name":"q1"` + meta + `},"spec":{` + spec + `}}`
	}
	for _, tc := range []struct {
		name, method, path, body string
		want                     []string
	}{
		{"NUL in the description", "POST", "/api/web/namespaces/shop/quotas", quota(`,"description":"a\u0000b"`, ""), []string{"metadata.description: must not contain the NUL character"}},
		{"NUL in an annotation", "POST", "/api/web/namespaces/shop/quotas", quota(`,"annotations":{"owner":"x\u0000"}`, ""), []string{"metadata.annotations[owner]: must not contain the NUL"}},
		{"NUL in a label key", "POST", "/api/web/namespaces/shop/quotas", quota(`,"labels":{"a\u0000":"b"}`, ""), []string{`metadata.labels["a\x00"]: key must not contain the NUL`}},
		{"NUL in a limit key", "POST", "/api/web/namespaces/shop/quotas", quota("", `"object_limits":{"pool\u0000":{"maximum":1}}`), []string{`spec.object_limits["pool\x00"]: key must not contain the NUL`}},
		{"invalid UTF-8 in a string", "POST", "/api/web/namespaces/shop/quotas", quota(",\"description\":\"caf\xe9\"", ""), []string{"metadata.description: is not valid UTF-8"}},
		{"overlong UTF-8", "POST", "/api/web/namespaces/shop/quotas", quota(",\"description\":\"\xc0\xaf\"", ""), []string{"metadata.description: is not valid UTF-8"}},
		{"UTF-8 surrogate", "POST", "/api/web/namespaces/shop/quotas", quota(",\"description\":\"\xed\xa0\x80\"", ""), []string{"metadata.description: is not valid UTF-8"}},
		{"unpaired surrogate escape", "POST", "/api/web/namespaces/shop/quotas", quota(`,"description":"\udc00x"`, ""), []string{"metadata.description: holds an unpaired UTF-16 surrogate"}},
		{"a key twice", "POST", "/api/web/namespaces/shop/quotas", `{"metadata":{"name":"q1","name":"q2"},"spec":{}}`, []string{"metadata.name: appears more than once"}},
		{"data after the JSON value", "POST", "/api/web/namespaces/shop/quotas", quota("", "") + ` {}`, []string{"request body: is not valid JSON"}},
		{"int32 overflow", "POST", "/api/web/namespaces/shop/quotas", quota("", `"object_limits":{"origin_pool":{"maximum":3000000000}}`), []string{"spec.object_limits[origin_pool].maximum: must be between -2147483648 and 2147483647"}},
		{"a fraction in an integer", "POST", "/api/web/namespaces/shop/quotas", quota("", `"object_limits":{"origin_pool":{"maximum":2.0}}`), []string{"spec.object_limits[origin_pool].maximum: must be a whole number"}},
		{"an exponent past float64", "POST", "/api/web/namespaces/shop/quotas", quota("", `"resource_limits":{"gib":{"maximum":1e400}}`), []string{"spec.resource_limits[gib].maximum"}},
		{"a negative maximum other than -1", "POST", "/api/web/namespaces/shop/quotas", quota("", `"resource_limits":{"gib":{"maximum":-0.5}}`), []string{"spec.resource_limits[gib].maximum: is not an allowed value: the most that may be used, a finite amount of 0 or more; -1 means unlimited (not)"}},
		{"rate limit unit", "POST", "/api/web/namespaces/shop/quotas", quota("", `"api_limits":{"listQuotas":{"rate":1,"unit":"WEEK"}}`), []string{"spec.api_limits[listQuotas].unit: value is not one of the allowed values"}},
		{"NUL in the namespace", "GET", "/api/web/namespaces/%00/quotas", "", []string{"path parameter namespace"}},
		{"invalid UTF-8 in the namespace", "GET", "/api/web/namespaces/%FF/quotas", "", []string{"path parameter namespace"}},
		{"overlong slash in the namespace", "GET", "/api/web/namespaces/%C0%AF/quotas", "", []string{"path parameter namespace"}},
		{"surrogate in the namespace", "GET", "/api/web/namespaces/%ED%A0%80/quota/limits", "", []string{"path parameter namespace"}},
		{"NUL in the name", "GET", "/api/web/namespaces/shop/quotas/q%00", "", []string{"path parameter name: must not contain the NUL"}},
		{"NUL in a query", "GET", "/api/web/namespaces/shop/quotas?label_filter=a%00", "", []string{"query parameter label_filter: must not contain the NUL"}},
		{"invalid UTF-8 in a query", "GET", "/api/web/namespaces/shop/quotas?label_filter=%FF", "", []string{"query parameter label_filter: is not valid UTF-8"}},
		{"huge limit", "GET", "/api/web/namespaces/system/usage/invoices/custom_list?limit=99999999999", "", []string{"query parameter limit: must be a whole number from 1 to 1000"}},
		// Widened to whole hours, the window would end in the year 10000,
		// which no answer can name.
		{"a window ending past the year 9999", "POST", "/api/web/namespaces/system/current_usage", `{"from":"9999-12-31T22:00:00Z","to":"9999-12-31T23:59:59Z"}`,
			[]string{"to: must not be after 9999-12-31T23:00:00Z"}},
		{"a window starting before the year 0", "POST", "/api/web/namespaces/system/usage_details", `{"from":"0000-01-01T00:30:00+01:00","to":"0000-01-01T05:00:00Z"}`,
			[]string{"from: must not be before 0000-01-01T00:00:00Z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			res := v.call(tc.method, tc.path, tok, body)
			if res.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", res.Status, res.Body)
			}
			msg := res.errorBody(t).Message
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not say %q", msg, want)
				}
			}
			assertClean(t, msg)
		})
	}
	if _, items, _ := v.listQuotas(tok, "shop", ""); len(items) != 0 {
		t.Fatalf("refused requests left %d objects", len(items))
	}
	// The limiter keys state only by real namespaces: malformed or missing
	// ones are refused before it, and so leave nothing behind.
	before, _ := v.quotas.Limiter().Size()
	for _, ns := range []string{"%00", "%FF", "ghost", "Bad_Name"} {
		res := v.call(http.MethodGet, "/api/web/namespaces/"+ns+"/quota/limits", tok, nil)
		if res.Status != http.StatusBadRequest && res.Status != http.StatusNotFound {
			t.Errorf("namespace %s: %d %s", ns, res.Status, res.Body)
		}
	}
	if after, _ := v.quotas.Limiter().Size(); after != before {
		t.Errorf("refused namespaces grew the limit cache from %d to %d entries", before, after)
	}
}

func TestOperatorInputIsCheckedToo(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	v.tenant("acme", "shop")
	future := v.app.Now().Add(time.Hour).Format(time.RFC3339Nano)
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/admin/v1/gauges", `{"object_counts":[{"tenant":"acme","namespace":"shop","kind":"origin_pool","count":1,"observed_at":"` + future + `"}]}`,
			"object_counts[0].observed_at: must not be more than 5m0s ahead"},
		{"POST", "/admin/v1/gauges", `{"resource_amounts":[{"tenant":"acme","namespace":"shop","resource":"gib","amount":1e400,"observed_at":"2026-11-25T10:00:00Z"}]}`,
			"resource_amounts[0].amount"},
		{"POST", "/admin/v1/tenants", `{"name":"x","display_name":"a\u0000b"}`, "display_name: must not contain the NUL"},
		{"GET", "/admin/v1/tenants/acme/namespaces/shop/quota_check?kind=origin_pool&count=9223372036854775807", "", "query parameter count"},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		res := v.admin(tc.method, tc.path, body)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, tc.want) {
			t.Errorf("%s %s: %d %s, want 400 saying %q", tc.method, tc.path, res.Status, res.Body, tc.want)
		}
		assertClean(t, string(res.Body))
	}
}

// A chunked body past the cap answers 413 like one with a Content-Length.
func TestChunkedBodyOverTheCapIs413(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	big := `{"metadata":{"name":"a","description":"` + strings.Repeat("x", maxBodyBytes) + `"},"spec":{}}`
	req := httptest.NewRequest(http.MethodPost, "/api/web/namespaces/system/quotas", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "APIToken "+tok)
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if res.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked oversized body: %d %s", res.Status, res.Body)
	}
	res.errorBody(t)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// A client that goes away is not a server error: it is logged at info as
// 499 and counted so in the metrics.
func TestClientThatDisconnectsIsNot500(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	// Gone while the server reads the body, and gone while it queries.
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/api/web/namespaces/system/quotas", io.MultiReader(strings.NewReader(`{"meta`), failingReader{})),
		// Listing always reads the store (tokens and limits may be cached).
		httptest.NewRequestWithContext(cancelled, http.MethodGet, "/api/web/namespaces/system/quotas", nil),
	} {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "APIToken "+tok)
		rec := httptest.NewRecorder()
		v.e.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s: 500 %s", req.Method, req.URL.Path, rec.Body)
		}
	}
	logs := v.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) || strings.Count(logs, `"status":499`) != 2 {
		t.Fatalf("want two info lines with status 499 and no error:\n%s", logs)
	}
	metrics := v.sr.do(t, v.e, http.MethodGet, "/metrics", nil, nil)
	for _, want := range []string{`operation="createQuota",status="499"`, `operation="listQuotas",status="499"`} {
		if !strings.Contains(string(metrics.Body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// Every operation of the spec, on a server holding data of every kind, is
// sent malformed variants of a request that succeeds (hostileCases derives
// them from the spec): each answers its exact 4xx with a schemaErrorType
// naming what is wrong and nothing internal, and no row of any table
// changes; afterwards the valid request still succeeds. On SQLite and on
// PostgreSQL alike.
func TestHostileInputToEveryOperation(t *testing.T) {
	t.Parallel()
	ops := specOperations(t)
	var mu sync.Mutex
	perCategory, total := map[string]int{}, 0
	t.Cleanup(func() {
		names := slices.Sorted(maps.Keys(perCategory))
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "\n  %-32s %4d", n, perCategory[n])
		}
		t.Logf("%d cases over %d operations:%s", total, len(ops), b.String())
	})
	for _, id := range sortedIDs(ops) {
		op := ops[id]
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			s := newSeeded(t)
			valid, ok := s.validRequests()[id]
			if !ok {
				t.Fatalf("no valid request for %s: add one to validRequests", id)
			}
			cases := hostileCases(op, valid)
			if len(cases) == 0 {
				t.Fatalf("no hostile cases for %s", id)
			}
			made := map[string]bool{}
			for _, hc := range cases {
				made[hc.category] = true
			}
			for c := range specCategories(op) {
				if !made[c] {
					t.Errorf("%s has room for %q input but no case of it", id, c)
				}
			}
			before := snapshot(t, s.db, uuid.Nil)
			for _, hc := range cases {
				res := s.send(t, hc)
				label := fmt.Sprintf("%s: %s", hc.category, hc.name)
				if res.Status != hc.status {
					t.Errorf("%s: %d %.300s, want %d", label, res.Status, res.Body, hc.status)
				} else if msg := res.errorBody(t).Message; !strings.Contains(msg, hc.mention) {
					t.Errorf("%s: message %q does not name %q", label, msg, hc.mention)
				} else {
					assertClean(t, msg)
				}
				after := snapshot(t, s.db, uuid.Nil)
				if changed := before.changes(after); len(changed) > 0 {
					t.Fatalf("%s changed %v", label, changed)
				}
			}
			var body any
			if valid.body != "" {
				body = valid.body
			}
			if res := s.call(valid.method, valid.path, s.admin, body); res.Status != http.StatusOK {
				t.Errorf("the valid request after the hostile ones: %d %s", res.Status, res.Body)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, hc := range cases {
				perCategory[hc.category]++
			}
			total += len(cases)
		})
	}
}

// send sends a hostile case as acme's admin (the public operation ignores
// the token) and checks the answer against the spec.
func (s *seeded) send(t *testing.T, hc hostileCase) response {
	t.Helper()
	var rd io.Reader
	if hc.body != nil {
		rd = bytes.NewReader(hc.body)
	}
	req := httptest.NewRequest(hc.method, hc.path, rd)
	if hc.body != nil {
		ct := hc.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "APIToken "+s.admin)
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	s.sr.validate(t, hc.method, hc.path, res)
	return res
}

// timeoutReader is a body cut off by the server's read timeout after a
// part of it arrived.
type timeoutReader struct{ sent bool }

type readTimeout struct{}

func (readTimeout) Error() string   { return "read tcp: i/o timeout" }
func (readTimeout) Timeout() bool   { return true }
func (readTimeout) Temporary() bool { return true }

func (r *timeoutReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, `{"metadata":{"name":`), nil
	}
	return 0, readTimeout{}
}

// A body the read timeout cut short answers 408 (never an empty 200) and
// closes the connection; nothing is created.
func TestBodyCutByTheReadTimeoutIs408(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	req := httptest.NewRequest(http.MethodPost, "/api/web/namespaces/system/quotas", &timeoutReader{})
	req.ContentLength = 1000
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "APIToken "+tok)
	rec := httptest.NewRecorder()
	v.e.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if res.Status != http.StatusRequestTimeout || res.Header.Get("Connection") != "close" {
		t.Fatalf("body cut by the read timeout: %d %v %s", res.Status, res.Header, res.Body)
	}
	res.errorBody(t)
}
