// Package server is the HTTP side of billing-api: Echo construction, the
// middleware chain, the handlers implementing the generated strict server
// interfaces (tenant API and operator API), and the one error mapper.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"billing-api/gen/admin"
	"billing-api/gen/api"
	"billing-api/openapi"
	"billing-api/server/fault"
	"billing-api/server/plan"
	"billing-api/server/quota"
	"billing-api/server/tenancy"
)

// maxBodyBytes caps every request body (1 MiB); larger bodies answer 413.
const maxBodyBytes = 1 << 20

// Config wires the server to its domain services.
type Config struct {
	Logger  *slog.Logger
	Tenancy *tenancy.Service
	Quotas  *quota.Service
	Plans   *plan.Service
	// AdminToken is the operator token; empty closes the operator API.
	AdminToken string
	// Ready reports whether the service can serve (the database answers).
	Ready func(ctx context.Context) error
	// Registry receives the HTTP metrics and is what /metrics exposes; nil
	// creates a private one.
	Registry *prometheus.Registry
}

// Validate checks the wiring.
func (c Config) Validate() error {
	var missing []string
	if c.Tenancy == nil {
		missing = append(missing, "Tenancy")
	}
	if c.Quotas == nil {
		missing = append(missing, "Quotas")
	}
	if c.Plans == nil {
		missing = append(missing, "Plans")
	}
	if c.Ready == nil {
		missing = append(missing, "Ready")
	}
	if len(missing) > 0 {
		return fmt.Errorf("server config lacks %v", missing)
	}
	return nil
}

// Server implements the tenant-facing strict server interface.
type Server struct {
	quotas *quota.Service
	plans  *plan.Service
}

var _ api.StrictServerInterface = (*Server)(nil)

// New builds the HTTP handler serving the tenant API, the operator API,
// health, readiness, metrics and the API documentation.
func New(cfg Config) (*echo.Echo, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorResponder{log: log}.handle
	e.Pre(middleware.RequestID())
	e.Use(observe(log, newHTTPMetrics(reg)))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.ErrorContext(c.Request().Context(), "panic recovered", "request_id", requestID(c),
				"path", c.Request().URL.Path, "error", err.Error(), "stack", string(stack))
			return fault.Internal(err)
		},
	}))

	billingSpec, err := loadSpec(openapi.BillingYAML)
	if err != nil {
		return nil, err
	}
	adminSpec, err := loadSpec(openapi.AdminYAML)
	if err != nil {
		return nil, err
	}
	if err := registerDocs(e, billingSpec, adminSpec); err != nil {
		return nil, err
	}
	registerOps(e, cfg.Ready, reg)

	// Tenant API: every operation gets its own chain, so each step knows the
	// operation it guards.
	ops, err := operations(billingSpec)
	if err != nil {
		return nil, err
	}
	bodyLimit := middleware.BodyLimit(fmt.Sprint(maxBodyBytes))
	validate := requestValidator(billingSpec)
	needNamespace := requireNamespace(cfg.Tenancy)
	perOp := map[string][]echo.MiddlewareFunc{}
	for id, op := range ops {
		perOp[id] = []echo.MiddlewareFunc{
			tagOperation(op),
			authenticate(cfg.Tenancy, op),
			rateLimit(cfg.Quotas.Limiter(), op),
			bodyLimit,
			validate,
			needNamespace,
		}
	}
	srv := &Server{quotas: cfg.Quotas, plans: cfg.Plans}
	api.RegisterHandlersWithOptions(e, api.NewStrictHandler(srv, nil), api.RegisterHandlersOptions{OperationMiddlewares: perOp})

	// Operator API.
	adminOps, err := operations(adminSpec)
	if err != nil {
		return nil, err
	}
	adminValidate := requestValidator(adminSpec)
	onlyOperator := operatorOnly(cfg.AdminToken)
	adminPerOp := map[string][]echo.MiddlewareFunc{}
	for id, op := range adminOps {
		adminPerOp[id] = []echo.MiddlewareFunc{tagOperation(op), onlyOperator, bodyLimit, adminValidate}
	}
	admin.RegisterHandlersWithOptions(e, admin.NewStrictHandler(&adminServer{tenancy: cfg.Tenancy, quotas: cfg.Quotas}, nil),
		admin.RegisterHandlersOptions{OperationMiddlewares: adminPerOp})
	return e, nil
}

// loadSpec parses a spec as written (the generated embedded copies have
// their operation ids rewritten).
func loadSpec(raw []byte) (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("loading spec: %w", err)
	}
	return spec, nil
}

// principal returns who the request acts for; the auth middleware has put
// it there for every non-public operation.
func principal(ctx context.Context) (tenancy.Principal, error) {
	p, ok := tenancy.PrincipalFrom(ctx)
	if !ok {
		return tenancy.Principal{}, fault.Internal(errors.New("no principal on an authenticated operation"))
	}
	return p, nil
}

// notServed answers 501 for an operation whose domain has not landed yet.
func notServed(operationID string) error {
	return &fault.Error{Kind: fault.KindNotImplemented, Message: operationID + " is not served by this release yet"}
}
