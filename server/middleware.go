package server

import (
	"crypto/rand"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"billing-api/server/fault"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// Context keys set by the per-operation middleware.
const (
	ctxOperation = "billing.operation"
	ctxNamespace = "billing.namespace"
)

// maxRequestIDLen bounds a client's X-Request-Id; longer ones are replaced.
const maxRequestIDLen = 64

// requestIDs gives every request an id, returned in X-Request-Id and used by
// every log line about it. A client's id is kept only when it is short and
// plain, so it cannot bloat or forge log lines.
func requestIDs() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(echo.HeaderXRequestID)
			if !validRequestID(id) {
				id = rand.Text()
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			return next(c)
		}
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for _, r := range id {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// tagOperation records which spec operation a route serves, for logs,
// metrics and the later middleware.
func tagOperation(op operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(ctxOperation, op)
			ns := op.FixedNamespace
			if ns == "" && op.namespaceParam != nil {
				ns = pathParam(c, "namespace")
			}
			c.Set(ctxNamespace, ns)
			return next(c)
		}
	}
}

// authenticate resolves the APIToken of a tenant request to a principal and
// checks the token may call the operation in the namespace: 401 without a
// usable token, 403 for a viewer's write or a namespace outside the token's
// list. Public operations pass untouched.
func authenticate(svc *tenancy.Service, op operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if op.Access == AccessPublic {
				return next(c)
			}
			secret, ok := credential(c.Request().Header.Get(echo.HeaderAuthorization), "APIToken")
			if !ok {
				return tenancy.ErrBadToken
			}
			p, err := svc.Authenticate(c.Request().Context(), secret)
			if err != nil {
				return err
			}
			ns, _ := c.Get(ctxNamespace).(string)
			if !p.MayAccessNamespace(ns) {
				return fault.Forbiddenf("token %q may not access namespace %q", p.TokenName, ns)
			}
			if op.Access != AccessRead && !p.MayWrite() {
				return fault.Forbiddenf("token role %q may not call %s", p.Role, op.ID)
			}
			req := c.Request()
			c.SetRequest(req.WithContext(tenancy.WithPrincipal(req.Context(), p)))
			return next(c)
		}
	}
}

// requireDatabase answers 503 (with Retry-After) while the store knows the
// database is gone, before authentication or a cache could answer: during an
// outage a replica answers nothing from memory that it could not confirm,
// and no request waits on a dead database longer than one probe.
func requireDatabase(db *store.DB) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := db.Reachable(c.Request().Context()); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// rateLimit enforces the tenant's api_limits for the operation (429 with
// Retry-After past the limit). Public operations have no tenant and the
// operator API never passes here.
func rateLimit(l *quota.RateLimiter, op operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := tenancy.PrincipalFrom(c.Request().Context())
			if !ok {
				return next(c)
			}
			ns, _ := c.Get(ctxNamespace).(string)
			if err := l.Allow(c.Request().Context(), p.TenantID, ns, op.ID); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// checkNamespace vets the namespace a request names before anything keys
// state by it (rate-limit buckets, caches): its format against the
// operation's parameter schema (400), then its existence for the tenant
// (404, also for another tenant's namespace).
func checkNamespace(svc *tenancy.Service, op operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ns, _ := c.Get(ctxNamespace).(string)
			if op.namespaceParam != nil && op.namespaceParam.Schema != nil {
				if err := op.namespaceParam.Schema.Value.VisitJSON(ns, SchemaOptions()...); err != nil {
					return validationFault(op, &openapi3filter.RequestError{Parameter: op.namespaceParam, Err: err})
				}
			}
			if p, ok := tenancy.PrincipalFrom(c.Request().Context()); ok && ns != "" {
				if err := svc.RequireNamespace(c.Request().Context(), p.TenantID, ns); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// operatorOnly admits requests carrying the operator token as a bearer
// token. Tenant tokens are never accepted; without a configured operator
// token the operator API is closed.
func operatorOnly(adminToken string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if adminToken == "" {
				return fault.Unauthenticatedf("the operator API is disabled: the server has no BILLING_ADMIN_TOKEN")
			}
			got, ok := credential(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(adminToken)) != 1 {
				return fault.Unauthenticatedf(`missing or invalid operator token: send "Authorization: Bearer <BILLING_ADMIN_TOKEN>"`)
			}
			return next(c)
		}
	}
}

// operatorInBrowser is operatorOnly for pages a browser opens: the operator
// token is also taken as the password of HTTP Basic authentication (any
// user name), and a refusal carries the Basic challenge so the browser asks
// for it. Since a browser then sends the credentials by itself, a request
// that changes something must come from the same site (Sec-Fetch-Site,
// else Origin): another site's page cannot make it.
func operatorInBrowser(adminToken string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			got, ok := credential(req.Header.Get(echo.HeaderAuthorization), "Bearer")
			if !ok {
				_, got, ok = req.BasicAuth()
			}
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(adminToken)) != 1 {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="billing-api operator", charset="UTF-8"`)
				return fault.Unauthenticatedf(`missing or invalid operator token: give it as the password when the browser asks (any user name), or send "Authorization: Bearer <BILLING_ADMIN_TOKEN>"`)
			}
			if req.Method != http.MethodGet && req.Method != http.MethodHead && crossSite(req) {
				return fault.Forbiddenf("a change from another site's page is refused: use the jobs UI itself or send the token as a bearer token without Origin")
			}
			return next(c)
		}
	}
}

// crossSite reports a request a browser sent on behalf of another site's
// page.
func crossSite(req *http.Request) bool {
	if site := req.Header.Get("Sec-Fetch-Site"); site != "" {
		return site != "same-origin" && site != "none"
	}
	origin := req.Header.Get(echo.HeaderOrigin)
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || u.Host != req.Host
}

// credential splits "Scheme value" (scheme case-insensitive).
func credential(header, scheme string) (string, bool) {
	s, v, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(s, scheme) {
		return "", false
	}
	v = strings.TrimSpace(v)
	return v, v != ""
}

// httpMetrics are the request metrics, labelled by operation id and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "billing_http_requests_total",
			Help: "HTTP requests served, by operation id, method and status code.",
		}, []string{"operation", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "billing_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by operation id, method and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation", "method", "status"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// methodLabel keeps the metrics' method label bounded: a client may send
// any token as the method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// observe logs every request as one JSON line and records its metrics. It
// answers errors itself (through the error handler) so the status it
// reports is the one the client got.
func observe(log *slog.Logger, m *httpMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			elapsed := time.Since(start)
			status := c.Response().Status
			name := "unmatched"
			if op, ok := c.Get(ctxOperation).(operation); ok {
				name = op.ID
			} else if p := c.Path(); p != "" && status != 404 {
				name = p
			}
			labels := []string{name, methodLabel(c.Request().Method), strconv.Itoa(status)}
			m.requests.WithLabelValues(labels...).Inc()
			m.duration.WithLabelValues(labels...).Observe(elapsed.Seconds())

			ctx := c.Request().Context()
			if !log.Enabled(ctx, slog.LevelInfo) {
				return nil // the line's attributes would be built for nothing
			}
			attrs := []any{
				"request_id", requestID(c), "method", c.Request().Method, "path", c.Request().URL.Path,
				"operation", name, "status", status, "duration_ms", float64(elapsed.Microseconds()) / 1000,
				"bytes_out", c.Response().Size,
			}
			if p, ok := tenancy.PrincipalFrom(ctx); ok {
				attrs = append(attrs, "tenant", p.TenantName, "token", p.TokenName)
			}
			log.InfoContext(ctx, "request", attrs...)
			return nil
		}
	}
}
