package server

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"billing-api/openapi"
)

// docsFS holds Swagger UI (vendored from the pinned swagger-ui-dist npm
// package; see `make vendor-swagger-ui`) and our page around it.
//
//go:embed docs
var docsFS embed.FS

// specsAsJSON renders both specs as JSON, once per process.
var specsAsJSON = sync.OnceValues(func() ([2][]byte, error) {
	var out [2][]byte
	for i, load := range []func() (*openapi3.T, error){billingSpec, adminSpec} {
		spec, err := load()
		if err != nil {
			return out, err
		}
		if out[i], err = json.Marshal(spec); err != nil {
			return out, fmt.Errorf("rendering a spec as JSON: %w", err)
		}
	}
	return out, nil
})

// registerDocs serves the specs (/openapi.yaml, /openapi.json and the
// operator API's under /admin/) and Swagger UI at /docs/.
func registerDocs(e *echo.Echo) error {
	asJSON, err := specsAsJSON()
	if err != nil {
		return err
	}
	billingJSON, adminJSON := asJSON[0], asJSON[1]
	serve := func(path, contentType string, body []byte) {
		e.GET(path, func(c echo.Context) error { return c.Blob(http.StatusOK, contentType, body) })
	}
	serve("/openapi.yaml", "application/yaml", openapi.BillingYAML)
	serve("/openapi.json", echo.MIMEApplicationJSON, billingJSON)
	serve("/admin/openapi.yaml", "application/yaml", openapi.AdminYAML)
	serve("/admin/openapi.json", echo.MIMEApplicationJSON, adminJSON)

	sub, err := fs.Sub(docsFS, "docs")
	if err != nil {
		return err
	}
	e.GET("/docs", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/docs/") })
	e.GET("/docs/*", echo.WrapHandler(http.StripPrefix("/docs/", http.FileServerFS(sub))))
	return nil
}
