package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"billing-api/server/fault"
)

// readBody reads the whole request body (at most maxBodyBytes) before
// anything else looks at it, so a chunked body over the cap answers 413
// exactly like one with a Content-Length, and later steps work on bytes.
func readBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength > maxBodyBytes {
			return tooLarge()
		}
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		data, err := io.ReadAll(io.LimitReader(req.Body, maxBodyBytes+1))
		if err != nil {
			return fault.ClientGone(err)
		}
		if len(data) > maxBodyBytes {
			return tooLarge()
		}
		req.Body = io.NopCloser(bytes.NewReader(data))
		req.ContentLength = int64(len(data))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		return next(c)
	}
}

func tooLarge() error {
	return &fault.Error{Kind: fault.KindTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", maxBodyBytes)}
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

// checkJSONBody checks a JSON body read by readBody: one JSON value, clean
// text, no key twice in an object (which one would count?), and integer
// fields written as integers (the Go types would refuse 2.0 later, without
// naming the field as the client wrote it).
func checkJSONBody(req *http.Request, schema *openapi3.Schema) (fields []fault.FieldError, notJSON bool) {
	if req.GetBody == nil {
		return nil, false
	}
	rd, _ := req.GetBody()
	data, _ := io.ReadAll(rd)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, false // the validator reports a missing body
	}
	if !json.Valid(data) {
		var v any
		detail := "is not valid JSON: unexpected data after the top-level value"
		if err := json.NewDecoder(bytes.NewReader(data)).Decode(&v); err != nil {
			detail = "is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")
		}
		return []fault.FieldError{{Field: "request body", Rule: "format", Detail: detail}}, true
	}
	return walkJSON(data, schema), false
}

// walkJSON visits every token of a valid JSON document, knowing for each
// value its path and the schema that describes it.
func walkJSON(data []byte, root *openapi3.Schema) []fault.FieldError {
	type frame struct {
		array  bool
		index  int
		key    string
		isKey  bool // an object expecting a key next
		keys   map[string]bool
		schema *openapi3.Schema
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var (
		stack  []*frame
		fields []fault.FieldError
		prev   int64
	)
	path := func() []string {
		var ptr []string
		for _, f := range stack {
			if f.array {
				ptr = append(ptr, strconv.Itoa(f.index))
			} else if !f.isKey {
				ptr = append(ptr, f.key)
			}
		}
		return ptr
	}
	report := func(rule, detail string) {
		field := fieldPath(root, path())
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
		if f.array {
			return childSchema(f.schema, "", true)
		}
		return childSchema(f.schema, f.key, false)
	}
	// advance moves past a finished value in the enclosing container.
	advance := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.array {
				f.index++
			} else {
				f.isKey = true
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			break // io.EOF; the document was checked valid before
		}
		raw := data[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{array: t == '[', isKey: t == '{', keys: map[string]bool{}, schema: here()})
			default:
				stack = stack[:len(stack)-1]
				advance()
			}
		case string:
			if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].isKey {
				f := stack[n-1]
				f.key, f.isKey = t, false
				if d := badJSONString(raw, t); d != "" {
					report("text", "key "+d)
				}
				if f.keys[t] {
					report("unique", "appears more than once in its object")
				}
				f.keys[t] = true
				continue
			}
			if d := badJSONString(raw, t); d != "" {
				report("text", d)
			}
			advance()
		case json.Number:
			if s := here(); s != nil && s.Type.Is(openapi3.TypeInteger) && strings.ContainsAny(string(t), ".eE") {
				report("type", "must be a whole number written without a fraction or exponent")
			}
			advance()
		default:
			advance()
		}
	}
	return fields
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

// badJSONString judges one string token: raw is its source (with any
// separators before it), s what it decoded to.
func badJSONString(raw []byte, s string) string {
	switch {
	case !utf8.Valid(raw):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain the NUL character (U+0000)"
	case unpairedSurrogate(raw):
		return "holds an unpaired UTF-16 surrogate escape"
	}
	return ""
}

// unpairedSurrogate reports a \uD800-\uDFFF escape that is not a high
// surrogate followed by a low one (Go would decode it to U+FFFD).
func unpairedSurrogate(raw []byte) bool {
	for i := 0; i+5 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // skip the escaped character (it may be a backslash)
			continue
		}
		r := hex4(raw[i+2 : i+6])
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+11 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if lo := hex4(raw[i+8 : i+12]); lo >= 0xDC00 && lo <= 0xDFFF {
					i += 11
					continue
				}
			}
			return true
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		}
		i += 5
	}
	return false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		case c >= 'A' && c <= 'F':
			r |= rune(c-'A') + 10
		default:
			return -1
		}
	}
	return r
}
