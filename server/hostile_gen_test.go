package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"billing-api/server/fault"
)

// The kinds of malformed input every operation is tried with, where the
// operation has something of the kind.
const (
	catWrongType    = "wrong type or format"
	catRequired     = "missing required"
	catEnum         = "unknown enum value"
	catOversized    = "oversized string or collection"
	catBody         = "oversized body"
	catJSON         = "invalid JSON"
	catUTF8         = "invalid UTF-8"
	catNUL          = "NUL character"
	catPath         = "bad path parameter"
	catLimit        = "huge limit"
	catRange        = "number out of range"
	catUnknownField = "unknown field"
	catRule         = "broken pattern or length"
	catContentType  = "wrong content type"
	catTwice        = "parameter given twice"
)

// hostileCase is one malformed request and the answer it must get.
type hostileCase struct {
	category, name string
	method, path   string
	body           []byte // nil: none
	contentType    string // "": application/json when there is a body
	status         int
	mention        string // what the error message must name
}

// badUTF8 stands for invalid UTF-8 while a body is built with
// encoding/json (which would replace the bytes with U+FFFD); it is swapped
// for them in the encoded body.
const badUTF8 = "zz-invalid-utf8-zz"

// hostileCases derives malformed variants of an operation's valid request
// from the operation's spec: every body field's type, format, enum,
// length, range, requiredness and unknown neighbours; every path and
// query parameter's; the body as a whole (not JSON, too large, the wrong
// media type); and text no store keeps (NUL, invalid UTF-8) in each place.
func hostileCases(op operation, valid request) []hostileCase {
	g := &caseGen{op: op, valid: valid}
	g.base, g.rawQuery, _ = strings.Cut(valid.path, "?")
	g.pathCases()
	g.queryCases()
	g.bodyCases()
	return g.out
}

type caseGen struct {
	op             operation
	valid          request
	base, rawQuery string // the valid path, split at '?'
	out            []hostileCase
}

func (g *caseGen) add(category, name, path string, body []byte, status int, mention string) {
	g.out = append(g.out, hostileCase{category: category, name: name, method: g.op.Method, path: path, body: body, status: status, mention: mention})
}

// validBodyBytes is the valid request's body (nil without one).
func (g *caseGen) validBodyBytes() []byte {
	if g.valid.body == "" {
		return nil
	}
	return []byte(g.valid.body)
}

func (g *caseGen) withQuery(base string) string {
	if g.rawQuery == "" {
		return base
	}
	return base + "?" + g.rawQuery
}

// pathCases: each path parameter malformed, out of its schema, or naming
// nothing; a namespace the path fixes replaced.
func (g *caseGen) pathCases() {
	tmpl := strings.Split(g.op.Path, "/")
	segs := strings.Split(g.base, "/")
	with := func(param, value string) string {
		out := slices.Clone(segs)
		for i, t := range tmpl {
			if t == "{"+param+"}" {
				out[i] = value
			}
		}
		return g.withQuery(strings.Join(out, "/"))
	}
	body := g.validBodyBytes()
	for _, name := range g.op.pathParams {
		what := "path parameter " + name
		g.add(catNUL, name+" holds NUL", with(name, "a%00"), body, http.StatusBadRequest, what)
		g.add(catUTF8, name+" is not UTF-8", with(name, "caf%E9"), body, http.StatusBadRequest, what)
		g.add(catPath, name+" breaks its pattern", with(name, "Bad_Value"), body, http.StatusBadRequest, what)
		s := g.op.param(openapi3.ParameterInPath, name).Schema.Value
		if len(s.Enum) > 0 {
			g.add(catEnum, name+" outside its enum", with(name, "shop"), body, http.StatusBadRequest, what)
			continue
		}
		if s.MaxLength != nil {
			g.add(catOversized, name+" too long", with(name, strings.Repeat("a", int(*s.MaxLength)+1)), body, http.StatusBadRequest, what)
		}
		absent, absentBody := "ghost", body
		if name != "namespace" {
			// A body that repeats the name must follow the path.
			absent = "no-such-object"
			for i, t := range tmpl {
				if t == "{"+name+"}" && body != nil {
					absentBody = bytes.ReplaceAll(body, []byte(`"`+segs[i]+`"`), []byte(`"`+absent+`"`))
				}
			}
		}
		g.add(catPath, name+" names nothing", with(name, absent), absentBody, http.StatusNotFound, `"`+absent+`"`)
	}
	if g.op.FixedNamespace != "" {
		path := strings.Replace(g.valid.path, "/namespaces/"+g.op.FixedNamespace+"/", "/namespaces/ghost/", 1)
		g.add(catPath, "another namespace where the path fixes one", path, body, http.StatusNotFound, "no such path")
	}
}

// queryCases: each declared query parameter missing, repeated or out of
// its schema; text no store keeps in a declared and an undeclared one.
func (g *caseGen) queryCases() {
	valid, _ := url.ParseQuery(g.rawQuery)
	body := g.validBodyBytes()
	with := func(name string, values ...string) string {
		q := url.Values{}
		for k, vs := range valid {
			q[k] = vs
		}
		if values == nil {
			q.Del(name)
		} else {
			q[name] = values
		}
		if len(q) == 0 {
			return g.base
		}
		return g.base + "?" + q.Encode()
	}
	// Any parameter is read as text, declared or not.
	g.add(catNUL, "undeclared query parameter holds NUL", with("note", "a\x00"), body, http.StatusBadRequest, "query parameter note")
	g.add(catUTF8, "undeclared query parameter is not UTF-8", with("note", "caf\xe9"), body, http.StatusBadRequest, "query parameter note")
	for _, ref := range allParams(g.op) {
		p := ref.Value
		if p.In != openapi3.ParameterInQuery {
			continue
		}
		name, what := p.Name, "query parameter "+p.Name
		s := p.Schema.Value
		if p.Required {
			g.add(catRequired, name+" missing", with(name), body, http.StatusBadRequest, what)
		}
		g.add(catNUL, name+" holds NUL", with(name, "a\x00"), body, http.StatusBadRequest, what)
		g.add(catUTF8, name+" is not UTF-8", with(name, "caf\xe9"), body, http.StatusBadRequest, what)
		if !s.Type.Is(openapi3.TypeArray) {
			v := valid.Get(name)
			if v == "" {
				v = "x"
			}
			g.add(catTwice, name+" given twice", with(name, v, v), body, http.StatusBadRequest, what)
		}
		switch {
		case s.Type.Is(openapi3.TypeInteger):
			g.add(catWrongType, name+" not a number", with(name, "abc"), body, http.StatusBadRequest, what)
			g.add(catWrongType, name+" a fraction", with(name, "1.5"), body, http.StatusBadRequest, what)
			if name == "limit" {
				g.add(catLimit, name+" huge", with(name, "99999999999"), body, http.StatusBadRequest, what)
			}
			for _, n := range outOfRange(s) {
				g.add(catRange, name+" = "+n.String(), with(name, n.String()), body, http.StatusBadRequest, what)
			}
		case s.Type.Is(openapi3.TypeBoolean):
			g.add(catWrongType, name+" not a boolean", with(name, "maybe"), body, http.StatusBadRequest, what)
		case s.Type.Is(openapi3.TypeArray):
			items := s.Items.Value
			if s.MaxItems != nil {
				vs := slices.Repeat([]string{"v"}, int(*s.MaxItems)+1)
				g.add(catOversized, name+" too many items", with(name, vs...), body, http.StatusBadRequest, what)
			}
			if items.MaxLength != nil {
				g.add(catOversized, name+" item too long", with(name, strings.Repeat("a", int(*items.MaxLength)+1)), body, http.StatusBadRequest, what)
			}
		default:
			for _, m := range stringMutations(s) {
				g.add(m.category, name+" "+m.name, with(name, m.value.(string)), body, http.StatusBadRequest, what)
			}
		}
	}
}

// bodyCases: the body as a whole, then every field the schema describes.
func (g *caseGen) bodyCases() {
	big := []byte(`{"x":"` + strings.Repeat("x", int(g.op.MaxBody)) + `"}`)
	g.add(catBody, "body over the cap", g.valid.path, big, http.StatusRequestEntityTooLarge, "request body larger than")
	schema := g.op.bodySchema()
	if schema == nil {
		return
	}
	valid := g.valid.body
	add := func(category, name, body string, mention string) {
		g.add(category, name, g.valid.path, []byte(body), http.StatusBadRequest, mention)
	}
	add(catJSON, "cut short", valid[:len(valid)-1], "is not valid JSON")
	add(catJSON, "data after the value", valid+` {}`, "is not valid JSON")
	add(catJSON, "not JSON at all", `metadata=x`, "is not valid JSON")
	add(catJSON, "a key twice", duplicateFirstKey(valid), "appears more than once")
	add(catWrongType, "null", `null`, "request body")
	add(catWrongType, "an array", `[]`, "request body")
	add(catWrongType, "a string", `"x"`, "request body")
	if g.op.route.Operation.RequestBody.Value.Required {
		g.out = append(g.out, hostileCase{category: catRequired, name: "no body", method: g.op.Method, path: g.valid.path,
			status: http.StatusBadRequest, mention: "request body"})
	}
	g.out = append(g.out, hostileCase{category: catContentType, name: "text/plain", method: g.op.Method, path: g.valid.path,
		body: []byte(valid), contentType: "text/plain", status: http.StatusBadRequest, mention: "Content-Type"})

	var validDoc any
	dec := json.NewDecoder(strings.NewReader(valid))
	dec.UseNumber()
	if err := dec.Decode(&validDoc); err != nil {
		panic(fmt.Sprintf("valid body of %s: %v", g.op.ID, err))
	}
	var muts []fieldMutation
	walkSchema(schema, nil, "", 0, &muts)
	for _, m := range muts {
		doc := setAt(cloneJSON(validDoc), m.path, m.value, m.delete)
		raw, err := json.Marshal(doc)
		if err != nil {
			panic(err)
		}
		raw = bytes.ReplaceAll(raw, []byte(badUTF8), []byte("caf\xe9"))
		mention := m.field
		if mention == "" {
			mention = "request body"
		}
		g.add(m.category, mention+" "+m.name, g.valid.path, raw, http.StatusBadRequest, mention)
	}
}

// fieldMutation changes (or deletes) the value at path in a body.
type fieldMutation struct {
	category, name string
	field          string // as the server names it: metadata.labels[k1]
	path           []any  // object keys (string) and array indexes (int)
	value          any
	delete         bool
}

// walkSchema lists, for the schema s of the value at path, the mutations
// that break it and then those of its parts.
func walkSchema(s *openapi3.Schema, path []any, field string, depth int, out *[]fieldMutation) {
	s = unwrapAllOf(s)
	if s == nil || depth > 8 {
		return
	}
	at := func(category, name string, value any) {
		*out = append(*out, fieldMutation{category: category, name: name, field: field, path: slices.Clone(path), value: value})
	}
	if len(path) > 0 {
		switch {
		case s.Type.Is(openapi3.TypeString):
			at(catWrongType, "a number", json.Number("12345"))
		case s.Type.Is(openapi3.TypeObject), s.Type.Is(openapi3.TypeArray), s.Type.Is(openapi3.TypeInteger),
			s.Type.Is(openapi3.TypeNumber), s.Type.Is(openapi3.TypeBoolean):
			at(catWrongType, "a string", "x")
		}
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		for _, m := range stringMutations(s) {
			at(m.category, m.name, m.value)
		}
		at(catNUL, "holds NUL", "a\x00b")
		at(catUTF8, "is not UTF-8", badUTF8)
	case s.Type.Is(openapi3.TypeInteger):
		at(catWrongType, "a fraction", json.Number("1.5"))
		for _, n := range outOfRange(s) {
			at(catRange, "= "+n.String(), n)
		}
	case s.Type.Is(openapi3.TypeNumber):
		for _, n := range outOfRange(s) {
			at(catRange, "= "+n.String(), n)
		}
	case s.Type.Is(openapi3.TypeArray):
		if s.MaxItems != nil {
			items := make([]any, int(*s.MaxItems)+1)
			for i := range items {
				items[i] = minimalValue(s.Items.Value, i)
			}
			at(catOversized, "too many items", items)
		}
		walkSchema(s.Items.Value, append(path, 0), field+"[0]", depth+1, out)
	case s.Type.Is(openapi3.TypeObject):
		if has := s.AdditionalProperties.Has; has != nil && !*has {
			where := field
			if where == "" {
				where = "request body"
			}
			*out = append(*out, fieldMutation{category: catUnknownField, name: "an unknown field", field: where + `: property "unexpected_field"`,
				path: append(slices.Clone(path), "unexpected_field"), value: json.Number("1")})
		}
		for _, req := range s.Required {
			*out = append(*out, fieldMutation{category: catRequired, name: "missing", field: joinDot(field, req),
				path: append(slices.Clone(path), req), delete: true})
		}
		if s.MaxProps != nil {
			at(catOversized, "too many properties", tooManyProperties(s))
		}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range s.Properties {
				if !yield(k) {
					return
				}
			}
		}) {
			walkSchema(s.Properties[name].Value, append(slices.Clone(path), name), joinDot(field, name), depth+1, out)
		}
		if ap := s.AdditionalProperties.Schema; ap != nil {
			walkSchema(ap.Value, append(slices.Clone(path), "k1"), field+fault.Key("k1"), depth+1, out)
			*out = append(*out,
				fieldMutation{category: catNUL, name: "a key holds NUL", field: field, path: append(slices.Clone(path), "k\x00"), value: minimalValue(ap.Value, 0)},
				fieldMutation{category: catUTF8, name: "a key is not UTF-8", field: field, path: append(slices.Clone(path), badUTF8), value: minimalValue(ap.Value, 0)})
		}
	}
}

type valueMutation struct {
	category, name string
	value          any
}

// stringMutations break a string schema's enum, length, pattern or format.
func stringMutations(s *openapi3.Schema) []valueMutation {
	if len(s.Enum) > 0 {
		return []valueMutation{{catEnum, "not in the enum", "NOT_AN_OPTION"}}
	}
	var out []valueMutation
	if s.MaxLength != nil {
		out = append(out, valueMutation{catOversized, "too long", strings.Repeat("a", int(*s.MaxLength)+1)})
	}
	if s.MinLength > 0 {
		out = append(out, valueMutation{catRule, "empty", ""})
	}
	if s.Pattern != "" {
		const bad = "!bad value!"
		if regexp.MustCompile(s.Pattern).MatchString(bad) {
			panic("pattern " + s.Pattern + " takes " + bad)
		}
		out = append(out, valueMutation{catRule, "breaks its pattern", bad})
	}
	switch s.Format {
	case "date-time":
		out = append(out, valueMutation{catWrongType, "not a date-time", "yesterday"})
	case "uuid":
		out = append(out, valueMutation{catWrongType, "not a uuid", "not-a-uuid"})
	case "hostname":
		out = append(out, valueMutation{catWrongType, "not a hostname", "-bad-.example"})
	}
	return out
}

// outOfRange are numbers just past a numeric schema's bounds and its
// format's, and one past any float64.
func outOfRange(s *openapi3.Schema) []json.Number {
	var out []json.Number
	num := func(f float64) json.Number { return json.Number(strconv.FormatFloat(f, 'f', -1, 64)) }
	if s.Min != nil {
		out = append(out, num(*s.Min-1))
	}
	if s.Max != nil {
		out = append(out, num(*s.Max+1))
	}
	switch {
	case s.Type.Is(openapi3.TypeNumber):
		out = append(out, "1e400")
	case s.Format == "int32" && (s.Max == nil || *s.Max >= math.MaxInt32):
		out = append(out, "2147483648")
	case s.Format != "int32" && s.Max == nil:
		out = append(out, "9223372036854775808")
	}
	return out
}

// minimalValue is a value a schema accepts (the i-th enum value for an
// enum), to fill collections past their size limits.
func minimalValue(s *openapi3.Schema, i int) any {
	s = unwrapAllOf(s)
	switch {
	case len(s.Enum) > 0:
		return s.Enum[i%len(s.Enum)]
	case s.Type.Is(openapi3.TypeString):
		return "v"
	case s.Type.Is(openapi3.TypeInteger), s.Type.Is(openapi3.TypeNumber):
		return json.Number("1")
	case s.Type.Is(openapi3.TypeBoolean):
		return true
	case s.Type.Is(openapi3.TypeArray):
		return []any{}
	}
	m := map[string]any{}
	for _, req := range s.Required {
		m[req] = minimalValue(s.Properties[req].Value, 0)
	}
	return m
}

// tooManyProperties is an object with one property more than s allows:
// its own properties first, then map entries.
func tooManyProperties(s *openapi3.Schema) map[string]any {
	m := map[string]any{}
	for name, p := range s.Properties {
		if len(m) > int(*s.MaxProps) {
			break
		}
		m[name] = minimalValue(p.Value, 0)
	}
	for i := 0; len(m) <= int(*s.MaxProps); i++ {
		var v any = json.Number("1")
		if ap := s.AdditionalProperties.Schema; ap != nil {
			v = minimalValue(ap.Value, 0)
		}
		m[fmt.Sprintf("k%d", i)] = v
	}
	return m
}

// allParams are the operation's parameters and its path's.
func allParams(op operation) openapi3.Parameters {
	return append(slices.Clone(op.route.PathItem.Parameters), op.route.Operation.Parameters...)
}

func joinDot(field, name string) string {
	if field == "" {
		return name
	}
	return field + "." + name
}

// setAt sets (or deletes) the value at path, making the objects and
// arrays on the way.
func setAt(node any, path []any, value any, del bool) any {
	if len(path) == 0 {
		return value
	}
	switch k := path[0].(type) {
	case string:
		m, _ := node.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if len(path) == 1 && del {
			delete(m, k)
			return m
		}
		m[k] = setAt(m[k], path[1:], value, del)
		return m
	case int:
		a, _ := node.([]any)
		for len(a) <= k {
			a = append(a, nil)
		}
		a[k] = setAt(a[k], path[1:], value, del)
		return a
	}
	panic(fmt.Sprintf("path step %v", path[0]))
}

func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = cloneJSON(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = cloneJSON(e)
		}
		return a
	}
	return v
}

// duplicateFirstKey repeats the first member of a JSON object.
func duplicateFirstKey(body string) string {
	dec := json.NewDecoder(strings.NewReader(body))
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	key, err := dec.Token()
	if err != nil {
		panic(err)
	}
	var value json.RawMessage
	if err := dec.Decode(&value); err != nil {
		panic(err)
	}
	k, _ := json.Marshal(key)
	return "{" + string(k) + ":" + string(value) + "," + body[1:]
}

// specCategories are the kinds of malformed input an operation has room
// for, read from its spec independently of the generator above: what
// hostileCases makes must cover them.
func specCategories(op operation) map[string]bool {
	c := map[string]bool{catBody: true, catNUL: true, catUTF8: true}
	var visit func(s *openapi3.Schema, depth int)
	visit = func(s *openapi3.Schema, depth int) {
		s = unwrapAllOf(s)
		if s == nil || depth > 8 {
			return
		}
		if len(s.Enum) > 0 {
			c[catEnum] = true
		}
		if s.MaxLength != nil || s.MaxItems != nil || s.MaxProps != nil {
			c[catOversized] = true
		}
		if s.Type.Is(openapi3.TypeInteger) || s.Type.Is(openapi3.TypeNumber) {
			c[catRange] = true
		}
		if len(s.Required) > 0 {
			c[catRequired] = true
		}
		if s.Pattern != "" || s.MinLength > 0 {
			c[catRule] = true
		}
		if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
			c[catUnknownField] = true
		}
		for _, p := range s.Properties {
			visit(p.Value, depth+1)
		}
		if s.Items != nil {
			visit(s.Items.Value, depth+1)
		}
		if s.AdditionalProperties.Schema != nil {
			visit(s.AdditionalProperties.Schema.Value, depth+1)
		}
	}
	if body := op.bodySchema(); body != nil {
		c[catJSON], c[catWrongType], c[catContentType] = true, true, true
		if op.route.Operation.RequestBody.Value.Required {
			c[catRequired] = true
		}
		visit(body, 0)
	}
	if op.FixedNamespace != "" {
		c[catPath] = true
	}
	for _, ref := range allParams(op) {
		p, s := ref.Value, ref.Value.Schema.Value
		if p.In == openapi3.ParameterInPath {
			// Malformed, outside an enum, too long, or naming nothing.
			c[catPath] = true
			if len(s.Enum) > 0 {
				c[catEnum] = true
			}
			if s.MaxLength != nil {
				c[catOversized] = true
			}
			continue
		}
		if p.Required {
			c[catRequired] = true
		}
		if !s.Type.Is(openapi3.TypeArray) {
			c[catTwice] = true
		}
		if p.Name == "limit" {
			c[catLimit] = true
		}
		visit(s, 0)
	}
	return c
}
