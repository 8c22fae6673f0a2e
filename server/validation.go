package server

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	echomw "github.com/oapi-codegen/echo-middleware"

	"billing-api/server/fault"
)

// maxReportedFields caps how many broken rules one 400 lists.
const maxReportedFields = 50

// requestValidator checks every request against the spec before any handler
// runs. Security is not checked here: the project's auth middleware does it.
func requestValidator(spec *openapi3.T) echo.MiddlewareFunc {
	// The middleware clears the servers list of the document it is given;
	// give it a shallow copy so the served document keeps its servers.
	own := *spec
	return echomw.OapiRequestValidatorWithOptions(&own, &echomw.Options{
		DoNotValidateServers:  true,
		SilenceServersWarning: true,
		Options: openapi3filter.Options{
			MultiError:              true,
			KeepValidatedValue:      true,
			AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: SchemaOptions(),
		},
		MultiErrorHandler: func(me openapi3.MultiError) *echo.HTTPError {
			return &echo.HTTPError{Code: http.StatusBadRequest, Message: "invalid request", Internal: me}
		},
		ErrorHandler: func(_ echo.Context, err *echo.HTTPError) error {
			return validationFault(err)
		},
	})
}

// SchemaOptions are the string formats this project checks beyond
// kin-openapi's defaults (date-time, byte): uuid, hostname and int64 carried
// in a string (money and counts).
func SchemaOptions() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
		"uuid":     openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
		"hostname": openapi3.NewRegexpFormatValidator(`^(?i:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.(?i:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?))*$`),
		"int64":    int64String{},
	})}
}

// int64String accepts a decimal integer that fits in an int64.
type int64String struct{}

func (int64String) Validate(v string) error {
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return fmt.Errorf("not a decimal 64-bit integer")
	}
	return nil
}

// validationFault turns the validator's answer into a fault.Error that names
// each offending field and rule, instead of kin-openapi's raw text.
func validationFault(he *echo.HTTPError) error {
	if he.Code != http.StatusBadRequest || he.Internal == nil {
		return he
	}
	var fields []fault.FieldError
	collectFieldErrors(he.Internal, "", &fields)
	if len(fields) == 0 {
		fields = append(fields, fault.FieldError{Field: "request", Detail: he.Internal.Error()})
	}
	more := 0
	if len(fields) > maxReportedFields {
		more = len(fields) - maxReportedFields
		fields = fields[:maxReportedFields]
	}
	msg := "invalid request"
	if more > 0 {
		msg = fmt.Sprintf("invalid request (%d more problems not listed)", more)
	}
	return &fault.Error{Kind: fault.KindInvalid, Message: msg, Fields: fields, Err: he.Internal}
}

func collectFieldErrors(err error, prefix string, out *[]fault.FieldError) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, each := range e {
			collectFieldErrors(each, prefix, out)
		}
	case *openapi3filter.RequestError:
		where := "request body"
		if e.Parameter != nil {
			where = fmt.Sprintf("%s parameter %s", e.Parameter.In, e.Parameter.Name)
		}
		if errors.Is(e.Err, openapi3filter.ErrInvalidRequired) {
			*out = append(*out, fault.FieldError{Field: where, Rule: "required", Detail: "is required but missing"})
			return
		}
		if e.Err == nil {
			*out = append(*out, fault.FieldError{Field: where, Rule: ruleFromReason(e.Reason), Detail: e.Reason})
			return
		}
		collectFieldErrors(e.Err, where, out)
	case *openapi3.SchemaError:
		*out = append(*out, fault.FieldError{
			Field:  joinField(prefix, fieldPath(e.JSONPointer())),
			Rule:   e.SchemaField,
			Detail: e.Reason,
		})
	case *openapi3filter.ParseError:
		detail := e.Reason
		if e.Kind == openapi3filter.KindInvalidFormat && e.Cause != nil && prefix == "request body" {
			detail = "invalid JSON: " + e.Cause.Error()
		} else if e.Cause != nil && detail == "" {
			detail = "cannot be parsed: " + e.Cause.Error()
		} else if detail == "" {
			detail = "cannot be parsed"
		}
		*out = append(*out, fault.FieldError{Field: joinField(prefix, fieldPath(toStrings(e.Path()))), Rule: "format", Detail: detail})
	default:
		if inner := errors.Unwrap(err); inner != nil {
			collectFieldErrors(inner, prefix, out)
			return
		}
		field := prefix
		if field == "" {
			field = "request"
		}
		*out = append(*out, fault.FieldError{Field: field, Detail: err.Error()})
	}
}

// joinField names a field inside a parameter or the body: a body field is
// named by its path alone, a parameter keeps its "query parameter x" prefix.
func joinField(prefix, path string) string {
	switch {
	case path == "" && prefix == "":
		return "request body"
	case path == "":
		return prefix
	case prefix == "" || prefix == "request body":
		return path
	default:
		return prefix + " " + path
	}
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// fieldPath renders a JSON pointer as metadata.labels["app.kubernetes.io/name"].
func fieldPath(ptr []string) string {
	var b strings.Builder
	for _, p := range ptr {
		switch {
		case plainKey.MatchString(p):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		default:
			fmt.Fprintf(&b, "[%q]", p)
		}
	}
	return b.String()
}

func toStrings(path []any) []string {
	out := make([]string, len(path))
	for i, p := range path {
		out[i] = fmt.Sprint(p)
	}
	return out
}

func ruleFromReason(reason string) string {
	if strings.Contains(reason, "required") {
		return "required"
	}
	return ""
}
