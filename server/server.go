// Package server is the HTTP side of billing-api: Echo construction, the
// middleware chain, the handlers implementing the generated strict server
// interface, and the one error mapper.
package server

import (
	"fmt"
	"log/slog"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"billing-api/gen/api"
	"billing-api/openapi"
	"billing-api/server/fault"
)

// maxBodyBytes caps every request body (1 MiB); larger bodies answer 413.
const maxBodyBytes = 1 << 20

// Server implements the generated strict server interface.
type Server struct{}

var _ api.StrictServerInterface = (*Server)(nil)

// Options configures New.
type Options struct {
	Logger *slog.Logger
}

// New builds the Echo instance serving the billing API.
func New(srv *Server, opts Options) (*echo.Echo, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorResponder{log: log}.handle

	e.Pre(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: false,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.ErrorContext(c.Request().Context(), "panic", "request_id", requestID(c), "error", err, "stack", string(stack))
			return err
		},
	}))

	spec, err := loadSpec()
	if err != nil {
		return nil, err
	}
	validate := requestValidator(spec)
	perOp := map[string][]echo.MiddlewareFunc{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			perOp[op.OperationID] = []echo.MiddlewareFunc{
				middleware.BodyLimit(fmt.Sprint(maxBodyBytes)),
				validate,
			}
		}
	}
	handler := api.NewStrictHandler(srv, nil)
	api.RegisterHandlersWithOptions(e, handler, api.RegisterHandlersOptions{OperationMiddlewares: perOp})
	return e, nil
}

// loadSpec parses a private copy of openapi/billing.yaml as written (the
// generated embedded copy has its operation ids rewritten, and the validator
// mutates its servers list).
func loadSpec() (*openapi3.T, error) {
	spec, err := openapi3.NewLoader().LoadFromData(openapi.BillingYAML)
	if err != nil {
		return nil, fmt.Errorf("loading openapi/billing.yaml: %w", err)
	}
	return spec, nil
}

// notServed answers 501 for an operation whose domain has not landed yet.
func notServed(operationID string) error {
	return &fault.Error{Kind: fault.KindNotImplemented, Message: operationID + " is not served by this release yet"}
}
