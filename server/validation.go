package server

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"billing-api/server/fault"
)

// validateRequest checks the request before any handler runs: first the
// text no store keeps faithfully (textProblems), then the spec operation
// with kin-openapi, answering one 400 that lists every broken rule. The
// route is known (each operation has its own chain), so nothing is routed
// twice. Security is not checked here: the project's auth middleware does.
func validateRequest(op operation) echo.MiddlewareFunc {
	opts := &openapi3filter.Options{
		MultiError:              true,
		KeepValidatedValue:      true,
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: SchemaOptions(),
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			fields, fatal := textProblems(c, op)
			fields = append(fields, repeatedParams(c, op)...)
			if !fatal {
				params := make(map[string]string, len(op.pathParams))
				for _, name := range op.pathParams {
					params[name] = pathParam(c, name)
				}
				in := &openapi3filter.RequestValidationInput{Request: c.Request(), PathParams: params, Route: op.route, Options: opts}
				if err := openapi3filter.ValidateRequest(c.Request().Context(), in); err != nil {
					collectFieldErrors(op, err, "", nil, &fields)
				}
			}
			if len(fields) > 0 {
				return fault.Invalid(fields, nil)
			}
			return next(c)
		}
	}
}

// repeatedParams finds query parameters given more than once that take
// one value: the validator would check the first and the handler's binding
// would then refuse the request without naming the parameter.
func repeatedParams(c echo.Context, op operation) []fault.FieldError {
	var out []fault.FieldError
	for name, values := range c.QueryParams() {
		if len(values) < 2 {
			continue
		}
		p := op.param(openapi3.ParameterInQuery, name)
		if p == nil || p.Schema == nil || p.Schema.Value.Type.Is(openapi3.TypeArray) {
			continue
		}
		out = append(out, fault.FieldError{Field: "query parameter " + printable(name), Rule: "single",
			Detail: fmt.Sprintf("must be given once, not %d times", len(values))})
	}
	return out
}

// pathParam is a path parameter as the client meant it: Echo leaves
// parameters escaped when it routes on the raw path.
func pathParam(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath != "" {
		if u, err := url.PathUnescape(v); err == nil {
			return u
		}
	}
	return v
}

// SchemaOptions are the string formats this project checks beyond
// kin-openapi's defaults (date-time, byte): uuid, hostname and int64 carried
// in a string (money and counts).
func SchemaOptions() []openapi3.SchemaValidationOption { return schemaOptions() }

// schemaOptions builds the options once: the format validators compile
// regular expressions.
var schemaOptions = sync.OnceValue(func() []openapi3.SchemaValidationOption {
	return []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(map[string]openapi3.StringFormatValidator{
		"uuid":     openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562),
		"hostname": openapi3.NewRegexpFormatValidator(`^(?i:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.(?i:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?))*$`),
		"int64":    int64String{},
	})}
})

// int64String accepts a decimal integer that fits in an int64.
type int64String struct{}

func (int64String) Validate(v string) error {
	if _, err := strconv.ParseInt(v, 10, 64); err != nil {
		return fmt.Errorf("not a decimal 64-bit integer")
	}
	return nil
}

// validationFault turns the validator's answer into a fault.Error that names
// each offending field and rule, in this project's words.
func validationFault(op operation, err error) error {
	var fields []fault.FieldError
	collectFieldErrors(op, err, "", nil, &fields)
	if len(fields) == 0 {
		fields = append(fields, fault.FieldError{Field: "request", Detail: "is not valid"})
	}
	return fault.Invalid(fields, err)
}

func collectFieldErrors(op operation, err error, prefix string, root *openapi3.Schema, out *[]fault.FieldError) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, each := range e {
			collectFieldErrors(op, each, prefix, root, out)
		}
	case *openapi3filter.RequestError:
		where, schema := "request body", op.bodySchema()
		if e.Parameter != nil {
			where = fmt.Sprintf("%s parameter %s", e.Parameter.In, e.Parameter.Name)
			schema = nil
			if e.Parameter.Schema != nil {
				schema = e.Parameter.Schema.Value
			}
		}
		switch {
		case errors.Is(e.Err, openapi3filter.ErrInvalidRequired):
			*out = append(*out, fault.FieldError{Field: where, Rule: "required", Detail: "is required but missing"})
		case errors.Is(e.Err, openapi3filter.ErrInvalidEmptyValue):
			*out = append(*out, fault.FieldError{Field: where, Rule: "required", Detail: "must not be empty"})
		case e.Err == nil:
			*out = append(*out, fault.FieldError{Field: where, Rule: ruleFromReason(e.Reason), Detail: cleanReason(e.Reason)})
		default:
			collectFieldErrors(op, e.Err, where, schema, out)
		}
	case *openapi3.SchemaError:
		collectSchemaErrors(e, prefix, root, out)
	case *openapi3filter.ParseError:
		detail := "cannot be parsed"
		switch {
		case e.Kind == openapi3filter.KindInvalidFormat && prefix == "request body":
			detail = "is not valid JSON"
		case root != nil && root.Type.Is(openapi3.TypeInteger):
			detail = "must be a whole number" + integerRange(root)
		case root != nil && root.Type.Is(openapi3.TypeNumber):
			detail = "must be a number"
		case root != nil && root.Type.Is(openapi3.TypeBoolean):
			detail = "must be true or false"
		}
		*out = append(*out, fault.FieldError{Field: joinField(prefix, fieldPath(root, toStrings(e.Path()))), Rule: "format", Detail: detail})
	default:
		if inner := errors.Unwrap(err); inner != nil {
			collectFieldErrors(op, inner, prefix, root, out)
			return
		}
		field := prefix
		if field == "" {
			field = "request"
		}
		*out = append(*out, fault.FieldError{Field: field, Detail: cleanReason(err.Error())})
	}
}

// collectSchemaErrors reports a schema error, looking through "allOf"
// (which wraps a property's own rules, as for an enum with a description)
// to the rules actually broken; kin-openapi gives those the full path too.
func collectSchemaErrors(e *openapi3.SchemaError, prefix string, root *openapi3.Schema, out *[]fault.FieldError) {
	ptr := e.JSONPointer()
	if e.SchemaField == "allOf" && e.Origin != nil {
		before := len(*out)
		for _, inner := range schemaErrorsIn(e.Origin) {
			collectSchemaErrors(inner, prefix, root, out)
		}
		if len(*out) > before {
			return
		}
	}
	detail := cleanReason(e.Reason)
	if detail == "" {
		detail = unstatedRule(e)
	}
	if e.SchemaField == "minProperties" || e.SchemaField == "maxProperties" {
		detail += propertiesNote(e)
	}
	*out = append(*out, fault.FieldError{
		Field:  joinField(prefix, fieldPath(root, ptr)),
		Rule:   e.SchemaField,
		Detail: detail,
	})
}

// unstatedRule words a broken rule that kin-openapi gives no reason for
// (a "not"), with the field's own one-line description when it has one.
func unstatedRule(e *openapi3.SchemaError) string {
	detail := "is not an allowed value"
	if e.Schema == nil {
		return detail
	}
	desc := strings.TrimSuffix(strings.TrimSpace(e.Schema.Description), ".")
	if desc == "" || strings.Contains(desc, "\n") {
		return detail
	}
	if r := []rune(desc); len(r) > 1 && unicode.IsUpper(r[0]) && !unicode.IsUpper(r[1]) {
		r[0] = unicode.ToLower(r[0])
		desc = string(r)
	}
	return detail + ": " + desc
}

// propertiesNote names what an object with too few or too many properties
// has, and what it may have, so "set exactly one of" rules read plainly.
func propertiesNote(e *openapi3.SchemaError) string {
	obj, _ := e.Value.(map[string]any)
	given := slices.Sorted(maps.Keys(obj))
	var allowed []string
	if e.Schema != nil {
		allowed = slices.Sorted(maps.Keys(e.Schema.Properties))
	}
	note := ""
	if len(given) > 0 {
		note = "; given: " + strings.Join(given, ", ")
	}
	if len(allowed) > 0 && len(allowed) <= 20 {
		note += "; allowed: " + strings.Join(allowed, ", ")
	}
	return note
}

// schemaErrorsIn finds the schema errors inside a wrapped error tree.
func schemaErrorsIn(err error) []*openapi3.SchemaError {
	if se, ok := err.(*openapi3.SchemaError); ok {
		return []*openapi3.SchemaError{se}
	}
	var out []*openapi3.SchemaError
	switch w := err.(type) {
	case openapi3.MultiError:
		for _, e := range w {
			out = append(out, schemaErrorsIn(e)...)
		}
	case interface{ Unwrap() []error }:
		for _, e := range w.Unwrap() {
			out = append(out, schemaErrorsIn(e)...)
		}
	case interface{ Unwrap() error }:
		if inner := w.Unwrap(); inner != nil {
			out = append(out, schemaErrorsIn(inner)...)
		}
	}
	return out
}

// integerRange states the range an integer schema allows.
func integerRange(s *openapi3.Schema) string {
	lo, hi := float64(math.MinInt64), float64(math.MaxInt64)
	if s.Format == "int32" {
		lo, hi = math.MinInt32, math.MaxInt32
	}
	if s.Min != nil {
		lo = *s.Min
	}
	if s.Max != nil {
		hi = *s.Max
	}
	return fmt.Sprintf(" from %s to %s", strconv.FormatFloat(lo, 'f', -1, 64), strconv.FormatFloat(hi, 'f', -1, 64))
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
	case strings.HasPrefix(path, "["):
		return prefix + path
	default:
		return prefix + " " + path
	}
}

// fieldPath renders a JSON pointer into root as the client wrote it:
// properties joined by dots, map keys and array indexes in brackets, as in
// spec.object_limits[origin_pool].maximum.
func fieldPath(root *openapi3.Schema, ptr []string) string {
	var b strings.Builder
	s := root
	for _, p := range ptr {
		s = unwrapAllOf(s)
		var next *openapi3.SchemaRef
		switch {
		case s != nil && s.Properties[p] != nil:
			next = s.Properties[p]
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(p)
		case s != nil && s.Type.Is(openapi3.TypeArray):
			next = s.Items
			b.WriteString("[" + p + "]")
		case s != nil && s.AdditionalProperties.Schema != nil:
			next = s.AdditionalProperties.Schema
			b.WriteString(fault.Key(p))
		default: // a property the schema does not know
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			if plainName.MatchString(p) {
				b.WriteString(p)
			} else {
				b.WriteString(fault.Key(p))
			}
		}
		s = nil
		if next != nil {
			s = next.Value
		}
	}
	return b.String()
}

var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func unwrapAllOf(s *openapi3.Schema) *openapi3.Schema {
	for s != nil && len(s.AllOf) == 1 && s.AllOf[0].Value != nil && len(s.Properties) == 0 && s.AdditionalProperties.Schema == nil {
		s = s.AllOf[0].Value
	}
	return s
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

var formatRange = regexp.MustCompile(`^(?:integer|number) doesn't match the format "\w+" \(value should be between (\S+) and (\S+)\)$`)

// cleanReason keeps validator messages in this project's words: ranges
// stated plainly, and nothing naming Go types or library internals.
func cleanReason(reason string) string {
	if m := formatRange.FindStringSubmatch(reason); m != nil {
		return fmt.Sprintf("must be between %s and %s", m[1], m[2])
	}
	switch {
	case strings.Contains(reason, "json.Number"), strings.Contains(reason, "float64"):
		return "is not a number this field can hold"
	case strings.Contains(reason, "json:"), strings.Contains(reason, "Go "), strings.Contains(reason, "reflect"),
		strings.Contains(reason, "interface {}"), strings.Contains(reason, "<nil>"):
		return "has an invalid value"
	}
	return reason
}
