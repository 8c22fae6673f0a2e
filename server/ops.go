package server

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"billing-api/gen/api"
	"billing-api/server/fault"
)

// registerOps adds the operational endpoints: /healthz (the process is up),
// /readyz (not shutting down and the database answers) and Prometheus
// /metrics, unless Config.SeparateMetrics moves it to another listener.
func (a *App) registerOps(e *echo.Echo, gatherer prometheus.Gatherer) {
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		if a.draining.Load() {
			// Written here, not through the error responder: a load balancer's
			// probes during shutdown are expected, not a failure to log.
			c.Response().Header().Set("Retry-After", "1")
			return c.JSON(http.StatusServiceUnavailable, api.SchemaErrorType{Code: api.EINTERNAL, Message: "shutting down"})
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := a.DB.Ping(ctx); err != nil {
			return fault.Unavailable(err)
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	if !a.cfg.SeparateMetrics {
		e.GET("/metrics", echo.WrapHandler(MetricsHandler(gatherer)))
	}
}

// registerSharedLimitMetrics exports, with Config.RedisURL, whether the
// shared rate-limit buckets answer and how many checks this replica decided
// with its own buckets because they did not.
func (a *App) registerSharedLimitMetrics(reg prometheus.Registerer) {
	s := a.sharedLimits
	if s == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "billing_ratelimit_redis_up",
			Help: "1 while the rate-limit buckets shared in Redis answer; 0 while this replica uses its own.",
		}, func() float64 {
			if s.Up() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "billing_ratelimit_fallback_checks_total",
			Help: "Rate-limit checks this replica decided with its own buckets because Redis did not answer in time.",
		}, func() float64 { return float64(s.FallbackChecks()) }),
	)
}

// MetricsHandler serves the metrics in gatherer in the Prometheus formats.
func MetricsHandler(gatherer prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})
}

// StartDraining makes /readyz answer 503 from now on, so load balancers stop
// sending new requests before the server stops accepting them.
func (a *App) StartDraining() { a.draining.Store(true) }

// registerPprof serves net/http/pprof under /admin/debug/pprof/ behind the
// operator token: profiles show code paths and memory, not for tenants.
func registerPprof(e *echo.Echo, onlyOperator echo.MiddlewareFunc) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	e.Any("/admin/debug/pprof/*", echo.WrapHandler(http.StripPrefix("/admin", mux)), onlyOperator)
}
