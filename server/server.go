// Package server is the HTTP side of billing-api and its wiring: the one
// constructor (Open) that builds the store and every domain service, Echo
// construction, the middleware chain, the handlers implementing the
// generated strict server interfaces (tenant API and operator API) and the
// one error mapper.
package server

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"billing-api/gen/admin"
	"billing-api/gen/api"
	"billing-api/openapi"
	"billing-api/server/fault"
)

// maxBodyBytes caps every request body (1 MiB); larger bodies answer 413.
const maxBodyBytes = 1 << 20

// Server implements the tenant-facing strict server interface; each
// domain's operations are in its own handlers file.
type Server struct{ app *App }

var _ api.StrictServerInterface = (*Server)(nil)

// adminServer implements the operator API; each domain's operations are in
// its own admin handlers file.
type adminServer struct{ app *App }

var _ admin.StrictServerInterface = (*adminServer)(nil)

// HTTPHandler builds the handler serving the tenant API, the operator API,
// health, readiness, metrics and the API documentation.
func (a *App) HTTPHandler() (*echo.Echo, error) { return a.httpHandler(true) }

// httpHandler builds the handler; without validation is for measuring what
// validation costs (BenchmarkValidation), never for serving.
func (a *App) httpHandler(validation bool) (*echo.Echo, error) {
	log := a.Log
	reg := a.cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorResponder{log: log}.handle
	e.Pre(requestIDs())
	e.Use(observe(log, newHTTPMetrics(reg)))
	a.registerSharedLimitMetrics(reg)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.ErrorContext(c.Request().Context(), "panic recovered", "request_id", requestID(c),
				"path", c.Request().URL.Path, "error", err.Error(), "stack", string(stack))
			return fault.Internal(err)
		},
	}))

	operatorSpec, err := adminSpec()
	if err != nil {
		return nil, err
	}
	if err := registerDocs(e); err != nil {
		return nil, err
	}
	a.registerOps(e, reg)

	// Tenant API: every operation gets its own chain, so each step knows the
	// operation it guards.
	perOp := map[string][]echo.MiddlewareFunc{}
	byClient := newClientLimiter(a.cfg.PublicRate, a.Now, a.sharedLimits)
	for id, op := range a.ops {
		perOp[id] = []echo.MiddlewareFunc{
			tagOperation(op),
			requireDatabase(a.DB),
			authenticate(a.Tenancy, op),
			checkNamespace(a.Tenancy, op),
			rateLimit(a.Quotas.Limiter(), op),
			readBody(op.MaxBody),
		}
		if validation {
			perOp[id] = append(perOp[id], validateRequest(op))
		}
		if id == "getCurrentPlan" {
			perOp[id] = append(perOp[id], localePreference)
		}
		if op.Access == AccessPublic {
			// Before anything else reads the request: ids must not be
			// guessable at speed.
			perOp[id] = append([]echo.MiddlewareFunc{perOp[id][0], limitByClient(byClient)}, perOp[id][1:]...)
		}
	}
	api.RegisterHandlersWithOptions(e, api.NewStrictHandler(&Server{app: a}, nil), api.RegisterHandlersOptions{OperationMiddlewares: perOp})

	// Operator API.
	adminOps, err := operatorOperations(operatorSpec)
	if err != nil {
		return nil, err
	}
	onlyOperator := operatorOnly(a.cfg.AdminToken)
	if a.cfg.Pprof {
		registerPprof(e, onlyOperator)
	}
	adminPerOp := map[string][]echo.MiddlewareFunc{}
	for id, op := range adminOps {
		adminPerOp[id] = []echo.MiddlewareFunc{tagOperation(op), onlyOperator, requireDatabase(a.DB), readBody(op.MaxBody), validateRequest(op)}
	}
	admin.RegisterHandlersWithOptions(e, admin.NewStrictHandler(&adminServer{app: a}, nil),
		admin.RegisterHandlersOptions{OperationMiddlewares: adminPerOp})
	if a.cfg.AdminToken != "" {
		if err := a.registerJobsUI(e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// JobsUIPrefix is where River's web UI (riverui) is served, behind the
// operator token.
const JobsUIPrefix = "/admin/jobs"

// registerJobsUI serves River's web UI under JobsUIPrefix to the operator:
// the token as a bearer token or, from a browser, as the password it asks
// for (HTTP Basic authentication, any user name).
func (a *App) registerJobsUI(e *echo.Echo) error {
	ctx, stop := context.WithCancel(context.Background())
	ui, err := a.Jobs.UI(ctx, JobsUIPrefix)
	if err != nil {
		stop()
		return err
	}
	a.uiMu.Lock()
	a.stopUI = append(a.stopUI, stop)
	a.uiMu.Unlock()
	g := e.Group(JobsUIPrefix, operatorInBrowser(a.cfg.AdminToken), requireDatabase(a.DB))
	g.GET("", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, JobsUIPrefix+"/")
	})
	g.Any("/*", echo.WrapHandler(ui))
	return nil
}

// The specs are parsed once per process and only read afterwards: parsing
// the tenant API's takes some 15 ms.
var (
	billingSpec = sync.OnceValues(func() (*openapi3.T, error) { return loadSpec(openapi.BillingYAML) })
	adminSpec   = sync.OnceValues(func() (*openapi3.T, error) { return loadSpec(openapi.AdminYAML) })
)

// loadSpec parses a spec as written (the generated embedded copies have
// their operation ids rewritten).
func loadSpec(raw []byte) (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, fmt.Errorf("loading spec: %w", err)
	}
	return spec, nil
}
