package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"billing-api/server/fault"
)

// readBody reads the whole request body (at most limit bytes) before
// anything else looks at it, so a chunked body over the cap answers 413
// exactly like one with a Content-Length, and later steps work on bytes.
func readBody(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > limit {
				return tooLarge(limit)
			}
			if req.Body == nil || req.Body == http.NoBody {
				return next(c)
			}
			data, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				// A slow client, cut off by the read timeout: it may still be
				// reading, so it is told, and the connection is not reused.
				c.Response().Header().Set(echo.HeaderConnection, "close")
				return fault.Timeout(err)
			}
			if err != nil {
				return fault.ClientGone(err)
			}
			if int64(len(data)) > limit {
				return tooLarge(limit)
			}
			req.Body = io.NopCloser(bytes.NewReader(data))
			req.ContentLength = int64(len(data))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
			return next(c)
		}
	}
}

func tooLarge(limit int64) error {
	return &fault.Error{Kind: fault.KindTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", limit)}
}

// textProblems finds what no store keeps faithfully, before schema
// validation: the NUL character (PostgreSQL cannot store it in text or
// JSON) and invalid UTF-8 (decoding would silently turn it into U+FFFD) in
// path and query parameters and in every string and key of a JSON body;
// and a body that is not exactly one JSON value (then fatal is set: the
// schema cannot be checked). Both stores thus answer the same 400.
func textProblems(c echo.Context, op operation) (fields []fault.FieldError, fatal bool) {
	for _, name := range op.pathParams {
		if d := badText(pathParam(c, name)); d != "" {
			fields = append(fields, fault.FieldError{Field: "path parameter " + name, Rule: "text", Detail: d})
		}
	}
	for name, values := range c.QueryParams() {
		for _, v := range append([]string{name}, values...) {
			if d := badText(v); d != "" {
				fields = append(fields, fault.FieldError{Field: "query parameter " + printable(name), Rule: "text", Detail: d})
				break
			}
		}
	}
	if schema := op.bodySchema(); schema != nil {
		body, bad := checkJSONBody(c.Request(), schema)
		fields = append(fields, body...)
		fatal = bad
	}
	return fields, fatal
}

func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain the NUL character (U+0000)"
	}
	return ""
}

// printable shows a name that may hold bad bytes.
func printable(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// checkJSONBody checks a JSON body read by readBody: exactly one JSON
// value, valid UTF-8 without unpaired surrogate escapes or NUL characters
// (PostgreSQL refuses NUL in text and JSON), no name twice in an object
// (which one would count?), and integer fields written as integers (the Go
// types would refuse 2.0 later, without naming the field as the client
// wrote it). notJSON is set when the body cannot be read as JSON at all.
//
// The scan uses jsontext (github.com/go-json-experiment/json), which checks
// UTF-8, surrogates and duplicate names itself at a tenth of the cost of
// encoding/json's tokenizer; a syntactic problem stops it, so that one is
// reported alone.
func checkJSONBody(req *http.Request, schema *openapi3.Schema) (fields []fault.FieldError, notJSON bool) {
	if req.GetBody == nil {
		return nil, false
	}
	rd, _ := req.GetBody()
	data, _ := io.ReadAll(rd)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, false // the validator reports a missing body
	}
	return walkJSON(data, schema)
}

// walkJSON visits every token of a JSON document, knowing for each value
// its path and the schema that describes it.
func walkJSON(data []byte, root *openapi3.Schema) (fields []fault.FieldError, notJSON bool) {
	type frame struct {
		schema *openapi3.Schema
		object bool
		name   string // the member being read, in an object
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	var stack []frame
	report := func(ptr jsontext.Pointer, rule, detail string) {
		field := fieldPath(root, slices.Collect(ptr.Tokens()))
		if field == "" {
			field = "request body"
		}
		fields = append(fields, fault.FieldError{Field: field, Rule: rule, Detail: detail})
	}
	// here is the schema of the value about to be read.
	here := func() *openapi3.Schema {
		if len(stack) == 0 {
			return root
		}
		f := stack[len(stack)-1]
		return childSchema(f.schema, f.name, !f.object)
	}
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			var se *jsontext.SyntacticError
			if !errors.As(err, &se) {
				report("", "format", "is not valid JSON")
				return fields, true
			}
			rule, detail := syntaxProblem(se)
			report(se.JSONPointer, rule, detail)
			return fields, true
		}
		switch k := tok.Kind(); k {
		case '{', '[':
			stack = append(stack, frame{schema: here(), object: k == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case '"':
			str := tok.String()
			isName := false
			if n := len(stack); n > 0 && stack[n-1].object {
				if _, count := dec.StackIndex(dec.StackDepth()); count%2 == 1 {
					stack[n-1].name, isName = str, true
				}
			}
			if strings.IndexByte(str, 0) >= 0 {
				detail := "must not contain the NUL character (U+0000)"
				if isName {
					detail = "key " + detail
				}
				report(dec.StackPointer(), "text", detail)
			}
		case '0':
			if s := here(); s != nil && s.Type.Is(openapi3.TypeInteger) && strings.ContainsAny(tok.String(), ".eE") {
				report(dec.StackPointer(), "type", "must be a whole number written without a fraction or exponent")
			}
		}
		// The decoder reads streams of values; a body is exactly one.
		if dec.StackDepth() == 0 {
			if _, err := dec.ReadToken(); err != io.EOF {
				report("", "format", "is not valid JSON: unexpected data after the top-level value")
				return fields, true
			}
			return fields, false
		}
	}
}

// syntaxProblem words what stopped the JSON scan, without byte offsets.
func syntaxProblem(se *jsontext.SyntacticError) (rule, detail string) {
	msg := se.Err.Error()
	switch {
	case errors.Is(se.Err, jsontext.ErrDuplicateName):
		return "unique", "appears more than once in its object"
	case strings.Contains(msg, "surrogate"):
		return "text", "holds an unpaired UTF-16 surrogate escape"
	case strings.Contains(msg, "invalid UTF-8"):
		return "text", "is not valid UTF-8"
	case errors.Is(se.Err, io.ErrUnexpectedEOF):
		return "format", "is not valid JSON: it ends too early"
	}
	return "format", "is not valid JSON: " + strings.TrimPrefix(msg, "jsontext: ")
}

// childSchema is the schema of a property (or, for arrays, an item).
func childSchema(s *openapi3.Schema, key string, item bool) *openapi3.Schema {
	s = unwrapAllOf(s)
	var ref *openapi3.SchemaRef
	switch {
	case s == nil:
	case item:
		ref = s.Items
	case s.Properties[key] != nil:
		ref = s.Properties[key]
	default:
		ref = s.AdditionalProperties.Schema
	}
	if ref == nil {
		return nil
	}
	return unwrapAllOf(ref.Value)
}
