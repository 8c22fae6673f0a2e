package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"billing-api/gen/api"
	"billing-api/openapi"
)

// specRouter finds the spec operation (tenant or operator API) of a request,
// to validate every response against the project's specs.
type specRouter struct {
	routers []routers.Router
}

func newSpecRouter(t testing.TB) *specRouter {
	t.Helper()
	sr, err := sharedSpecRouter()
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

// sharedSpecRouter builds the routers once per test binary: they are only
// read, and parsing the specs is the costliest part of a test's setup.
var sharedSpecRouter = sync.OnceValues(func() (*specRouter, error) {
	sr := &specRouter{}
	for _, raw := range [][]byte{openapi.BillingYAML, openapi.AdminYAML} {
		spec, err := loadSpec(raw)
		if err != nil {
			return nil, err
		}
		spec.Servers = nil
		r, err := gorillamux.NewRouter(spec)
		if err != nil {
			return nil, err
		}
		sr.routers = append(sr.routers, r)
	}
	return sr, nil
})

// response is one recorded answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) errorBody(t testing.TB) api.SchemaErrorType {
	t.Helper()
	var e api.SchemaErrorType
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %q is not a schemaErrorType: %v", r.Body, err)
	}
	if e.Code == "" || e.Message == "" {
		t.Fatalf("error body %q lacks code or message", r.Body)
	}
	return e
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", r.Body, err)
	}
}

// do sends a request to e in process and validates the response against the
// spec whenever the path belongs to the contract.
func (sr *specRouter) do(t testing.TB, e *echo.Echo, method, path string, body any, header http.Header) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	sr.validate(t, method, path, res)
	return res
}

func (sr *specRouter) validate(t testing.TB, method, path string, res response) {
	t.Helper()
	if _, err := sr.check(method, path, res); err != nil {
		t.Fatalf("%s %s answered %d %s which breaks the spec: %v", method, path, res.Status, res.Body, err)
	}
}

// check validates one answer against the spec operation of method and path
// and returns the operation's id ("" for a path outside the contracts:
// health, docs, metrics).
func (sr *specRouter) check(method, path string, res response) (string, error) {
	req := httptest.NewRequest(method, path, nil)
	var (
		route  *routers.Route
		params map[string]string
	)
	for _, r := range sr.routers {
		if rt, ps, err := r.FindRoute(req); err == nil {
			route, params = rt, ps
			break
		}
	}
	if route == nil {
		return "", nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, SchemaValidationOptions: SchemaOptions()},
		},
		Status: res.Status,
		Header: res.Header,
		Body:   io.NopCloser(bytes.NewReader(res.Body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			MultiError:              true,
			SchemaValidationOptions: SchemaOptions(),
		},
	}
	return route.Operation.OperationID, openapi3filter.ValidateResponse(context.Background(), in)
}
