package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"billing-api/gen/api"
	"billing-api/server/fault"
)

// statusClientClosed is what logs and metrics record for a client that
// disconnected before its answer (nginx's convention); nobody receives it.
const statusClientClosed = 499

// statusOf is the one mapping from error kinds to HTTP status and error code.
func statusOf(k fault.Kind) (int, api.SchemaErrorCode) {
	switch k {
	case fault.KindInvalid:
		return http.StatusBadRequest, api.EBADINPUT
	case fault.KindUnauthenticated:
		return http.StatusUnauthorized, api.EPERMS
	case fault.KindForbidden:
		return http.StatusForbidden, api.EPERMS
	case fault.KindNotFound:
		return http.StatusNotFound, api.ENOTFOUND
	case fault.KindConflict:
		return http.StatusConflict, api.EEXISTS
	case fault.KindTooLarge:
		return http.StatusRequestEntityTooLarge, api.EBADINPUT
	case fault.KindRateLimited:
		return http.StatusTooManyRequests, api.EPERMS
	case fault.KindUnavailable:
		return http.StatusServiceUnavailable, api.EINTERNAL
	case fault.KindNotImplemented:
		return http.StatusNotImplemented, api.EUNKNOWN
	case fault.KindClientGone:
		return statusClientClosed, api.EUNKNOWN
	case fault.KindTimeout:
		return http.StatusRequestTimeout, api.EBADINPUT
	default:
		return http.StatusInternalServerError, api.EINTERNAL
	}
}

// answer is what an error becomes on the wire.
type answer struct {
	status     int
	code       api.SchemaErrorCode
	message    string
	retryAfter time.Duration
	// internal is set when the error is unexpected: it is logged in full and
	// the client sees only a generic message with the request id.
	internal bool
	cause    error
}

func describe(err error) answer {
	if errors.Is(err, context.Canceled) && fault.KindOf(err) == fault.KindInternal {
		err = fault.ClientGone(err)
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		status, code := statusOf(fe.Kind)
		return answer{
			status: status, code: code, message: fe.Error(), retryAfter: fe.RetryAfter,
			internal: fe.Kind == fault.KindInternal, cause: err,
		}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return describeEcho(he)
	}
	return answer{status: http.StatusInternalServerError, code: api.EINTERNAL, internal: true, cause: err}
}

// describeEcho classifies the errors Echo itself produces (routing, body
// limit, binding) so they get the same treatment as domain errors.
func describeEcho(he *echo.HTTPError) answer {
	msg := http.StatusText(he.Code)
	if s, ok := he.Message.(string); ok && s != "" {
		msg = s
	}
	switch he.Code {
	case http.StatusBadRequest:
		return describe(bindFault(he))
	case http.StatusNotFound:
		return describe(&fault.Error{Kind: fault.KindNotFound, Message: "no such path", Err: he})
	case http.StatusRequestEntityTooLarge:
		return describe(&fault.Error{Kind: fault.KindTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", maxBodyBytes), Err: he})
	}
	if he.Code >= 500 {
		return answer{status: http.StatusInternalServerError, code: api.EINTERNAL, internal: true, cause: he}
	}
	// 405, 415 and any other client error keep their status.
	return answer{status: he.Code, code: api.EUNKNOWN, message: msg, cause: he}
}

// errorResponder writes every error as a schemaErrorType body. It is the
// only place errors become HTTP answers.
type errorResponder struct {
	log *slog.Logger
}

func (r errorResponder) handle(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	a := describe(err)
	reqID := requestID(c)
	ctx := c.Request().Context()
	switch {
	case a.internal:
		r.log.ErrorContext(ctx, "request failed", "request_id", reqID, "method", c.Request().Method,
			"path", c.Request().URL.Path, "status", a.status, "error", fault.Detail(a.cause))
		a.message = fmt.Sprintf("internal error (request id %s)", reqID)
	case a.status == http.StatusServiceUnavailable:
		r.log.WarnContext(ctx, "dependency unavailable", "request_id", reqID,
			"path", c.Request().URL.Path, "error", fault.Detail(a.cause))
	case a.status == statusClientClosed:
		// Nobody is left to answer: the request log line (info) and the
		// metrics record 499.
		c.Response().Status = statusClientClosed
		return
	}
	if a.retryAfter > 0 {
		secs := int((a.retryAfter + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(a.status)
	} else {
		werr = c.JSON(a.status, api.SchemaErrorType{Code: a.code, Message: a.message})
	}
	if werr != nil {
		r.log.WarnContext(ctx, "writing error response", "request_id", reqID, "error", werr)
	}
}

// bindFault classifies a body the generated handler could not bind after
// validation passed (say 2.0 for an integer): the field and what it must
// be, never Go type names or byte offsets.
func bindFault(he *echo.HTTPError) error {
	var te *json.UnmarshalTypeError
	if errors.As(he, &te) {
		field := te.Field
		if field == "" {
			field = "request body"
		}
		detail := "has the wrong type"
		switch te.Type.Kind() {
		case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
			detail = "must be a whole number written without a fraction or exponent"
		case reflect.String:
			detail = "must be a string"
		case reflect.Bool:
			detail = "must be true or false"
		case reflect.Float32, reflect.Float64:
			detail = "must be a number"
		}
		return fault.Invalid([]fault.FieldError{{Field: field, Rule: "type", Detail: detail}}, he)
	}
	return &fault.Error{Kind: fault.KindInvalid, Message: "invalid request: the request could not be read", Err: he}
}

func requestID(c echo.Context) string {
	if id := c.Response().Header().Get(echo.HeaderXRequestID); id != "" {
		return id
	}
	return c.Request().Header.Get(echo.HeaderXRequestID)
}
