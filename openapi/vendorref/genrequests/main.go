// Command genrequests writes openapi/vendorref/requests.json: the request shapes
// of every operation of the vendor's published Billing and Usage description
// (its JSON file is the one argument), reduced to facts — paths, methods,
// parameters, and each request body resolved into a self-contained tree of
// property names, JSON types, formats, enums, required lists, array items,
// map values, the vendor's example values and its validation rules as data.
// Prose (descriptions, titles, display names) is left out.
//
// A developer runs it when the vendor publishes a new description:
//
//	go run ./openapi/vendorref/genrequests -o openapi/vendorref/requests.json ../shared/reference/f5xc-billing-and-usage.reference.json
//
// Tests read only the committed output, never the vendor's file.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

func main() {
	out := flag.String("o", "openapi/vendorref/requests.json", "where to write the fixture")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: genrequests [-o requests.json] vendor-description.json\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	raw, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	f, err := extract(raw)
	if err != nil {
		fail(fmt.Errorf("%s: %w", flag.Arg(0), err))
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("%s: %d operations from %s (version %s)\n", *out, len(f.Operations), flag.Arg(0), f.VendorVersion)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "genrequests:", err)
	os.Exit(1)
}

// Fixture is what the file holds.
type Fixture struct {
	// VendorVersion is the description's info.version.
	VendorVersion string `json:"vendor_version"`
	// SourceSHA256 identifies the exact file the fixture was made from.
	SourceSHA256 string      `json:"source_sha256"`
	Operations   []Operation `json:"operations"`
}

// Operation is one path and method of the vendor's API.
type Operation struct {
	OperationID string      `json:"operation_id"`
	Method      string      `json:"method"`
	Path        string      `json:"path"`
	Parameters  []Parameter `json:"parameters,omitempty"`
	Body        *Body       `json:"body,omitempty"`
}

// Parameter is a path or query parameter.
type Parameter struct {
	Name     string  `json:"name"`
	In       string  `json:"in"`
	Required bool    `json:"required,omitempty"`
	Explode  *bool   `json:"explode,omitempty"`
	Schema   *Schema `json:"schema"`
}

// Body is the JSON request body.
type Body struct {
	Required bool    `json:"required,omitempty"`
	Schema   *Schema `json:"schema"`
}

// Schema is one node of a resolved schema tree.
type Schema struct {
	// SchemaName is the component the node was resolved from, if any.
	SchemaName string   `json:"schema_name,omitempty"`
	Type       string   `json:"type,omitempty"`
	Format     string   `json:"format,omitempty"`
	Enum       []string `json:"enum,omitempty"`
	Default    any      `json:"default,omitempty"`
	// Required is the vendor's own `required` list of an object.
	Required []string `json:"required,omitempty"`
	// XVesRequired is the property's `x-ves-required: "true"`.
	XVesRequired bool `json:"x_ves_required,omitempty"`
	// ReadOnly is `readOnly: true` or `x-field-mutability: read-only`.
	ReadOnly bool `json:"read_only,omitempty"`
	// Example is the vendor's `x-ves-example` (or `example`), as written.
	Example any `json:"example,omitempty"`
	// Rules are `x-ves-validation-rules` (and `x-validation-rules`), their
	// common `ves.io.schema.rules.` prefix removed: "string.const": "system".
	Rules map[string]string `json:"rules,omitempty"`
	// OneOf are the `x-ves-oneof-field-<group>` lists: at most one member
	// of a group is set.
	OneOf                map[string][]string `json:"one_of,omitempty"`
	Properties           map[string]*Schema  `json:"properties,omitempty"`
	Items                *Schema             `json:"items,omitempty"`
	AdditionalProperties *Schema             `json:"additional_properties,omitempty"`
	// Recursive names a component met again inside itself (not expanded).
	Recursive string `json:"recursive,omitempty"`
}

type doc struct {
	Info struct {
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

type rawOperation struct {
	OperationID string           `json:"operationId"`
	Parameters  []map[string]any `json:"parameters"`
	RequestBody *struct {
		Required bool `json:"required"`
		Content  map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

var methods = []string{"get", "put", "post", "delete", "patch"}

func extract(raw []byte) (*Fixture, error) {
	var d doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	f := &Fixture{VendorVersion: d.Info.Version, SourceSHA256: hex.EncodeToString(sum[:])}
	r := resolver{schemas: d.Components.Schemas}
	for path, item := range d.Paths {
		var shared []map[string]any
		if p, ok := item["parameters"]; ok {
			if err := json.Unmarshal(p, &shared); err != nil {
				return nil, fmt.Errorf("%s parameters: %w", path, err)
			}
		}
		for _, m := range methods {
			body, ok := item[m]
			if !ok {
				continue
			}
			var ro rawOperation
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&ro); err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, path, err)
			}
			op := Operation{OperationID: ro.OperationID, Method: strings.ToUpper(m), Path: path}
			for _, p := range append(slices.Clone(shared), ro.Parameters...) {
				param, err := r.parameter(p)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", m, path, err)
				}
				op.Parameters = append(op.Parameters, param)
			}
			if rb := ro.RequestBody; rb != nil {
				mt, ok := rb.Content["application/json"]
				if !ok {
					return nil, fmt.Errorf("%s %s: the request body is not application/json", m, path)
				}
				s, err := r.schema(mt.Schema, nil)
				if err != nil {
					return nil, fmt.Errorf("%s %s body: %w", m, path, err)
				}
				op.Body = &Body{Required: rb.Required, Schema: s}
			}
			f.Operations = append(f.Operations, op)
		}
	}
	slices.SortFunc(f.Operations, func(a, b Operation) int {
		return strings.Compare(a.Path+" "+a.Method, b.Path+" "+b.Method)
	})
	return f, nil
}

type resolver struct {
	schemas map[string]map[string]any
}

func (r resolver) parameter(p map[string]any) (Parameter, error) {
	if ref, ok := p["$ref"].(string); ok {
		return Parameter{}, fmt.Errorf("parameter reference %s is not supported", ref)
	}
	name, _ := p["name"].(string)
	in, _ := p["in"].(string)
	if name == "" || in == "" {
		return Parameter{}, fmt.Errorf("a parameter lacks its name or location")
	}
	required, _ := p["required"].(bool)
	out := Parameter{Name: name, In: in, Required: required}
	if e, ok := p["explode"].(bool); ok {
		out.Explode = &e
	}
	sm, _ := p["schema"].(map[string]any)
	s, err := r.schema(sm, nil)
	if err != nil {
		return Parameter{}, fmt.Errorf("parameter %s: %w", name, err)
	}
	// A parameter's own x-ves-* facts sit beside its schema.
	if err := facts(p, s); err != nil {
		return Parameter{}, fmt.Errorf("parameter %s: %w", name, err)
	}
	out.Schema = s
	return out, nil
}

// schema resolves a schema object: references followed, single-branch
// allOf wrappers merged into the node, prose dropped. seen holds the
// components being expanded, so a recursive one stops.
func (r resolver) schema(m map[string]any, seen []string) (*Schema, error) {
	out := &Schema{}
	if m == nil {
		return out, nil
	}
	if ref, ok := m["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if name == ref {
			return nil, fmt.Errorf("reference %s is not to a component schema", ref)
		}
		if slices.Contains(seen, name) {
			return &Schema{Recursive: name}, nil
		}
		target, ok := r.schemas[name]
		if !ok {
			return nil, fmt.Errorf("reference to the missing schema %s", name)
		}
		s, err := r.schema(target, append(slices.Clone(seen), name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if s.SchemaName == "" {
			s.SchemaName = name
		}
		// Siblings of a $ref (OpenAPI 3.0 ignores them, but the vendor puts
		// facts there) still count.
		if err := facts(m, s); err != nil {
			return nil, err
		}
		return s, nil
	}
	if all, ok := m["allOf"].([]any); ok {
		for i, branch := range all {
			bm, _ := branch.(map[string]any)
			s, err := r.schema(bm, seen)
			if err != nil {
				return nil, fmt.Errorf("allOf[%d]: %w", i, err)
			}
			if err := merge(out, s); err != nil {
				return nil, fmt.Errorf("allOf[%d]: %w", i, err)
			}
		}
	}
	for _, k := range []string{"oneOf", "anyOf", "not"} {
		if _, ok := m[k]; ok {
			return nil, fmt.Errorf("%s is not supported", k)
		}
	}
	own := &Schema{}
	own.Type, _ = m["type"].(string)
	own.Format, _ = m["format"].(string)
	if own.Type == "string" && own.Format == "string" {
		own.Format = "" // the vendor's spelling of "no format"
	}
	if e, ok := m["enum"].([]any); ok {
		for _, v := range e {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("enum value %v is not a string", v)
			}
			own.Enum = append(own.Enum, s)
		}
	}
	own.Default = m["default"]
	if req, ok := m["required"].([]any); ok {
		for _, v := range req {
			if s, ok := v.(string); ok {
				own.Required = append(own.Required, s)
			}
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		own.Properties = map[string]*Schema{}
		for name, pv := range props {
			pm, _ := pv.(map[string]any)
			s, err := r.schema(pm, seen)
			if err != nil {
				return nil, fmt.Errorf("property %s: %w", name, err)
			}
			own.Properties[name] = s
		}
	}
	if items, ok := m["items"].(map[string]any); ok {
		s, err := r.schema(items, seen)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		own.Items = s
	}
	switch ap := m["additionalProperties"].(type) {
	case map[string]any:
		s, err := r.schema(ap, seen)
		if err != nil {
			return nil, fmt.Errorf("additionalProperties: %w", err)
		}
		own.AdditionalProperties = s
	case bool:
		if ap {
			own.AdditionalProperties = &Schema{}
		}
	}
	if err := facts(m, own); err != nil {
		return nil, err
	}
	if err := merge(out, own); err != nil {
		return nil, err
	}
	return out, nil
}

// facts copies the vendor's extension facts of m into s.
func facts(m map[string]any, s *Schema) error {
	if v, ok := m["x-ves-required"]; ok && fmt.Sprint(v) == "true" {
		s.XVesRequired = true
	}
	if v, ok := m["readOnly"].(bool); ok && v {
		s.ReadOnly = true
	}
	if v, ok := m["x-field-mutability"].(string); ok && v == "read-only" {
		s.ReadOnly = true
	}
	if v, ok := m["x-ves-example"]; ok {
		s.Example = v
	} else if v, ok := m["example"]; ok {
		s.Example = v
	}
	for _, key := range []string{"x-ves-validation-rules", "x-validation-rules"} {
		rules, ok := m[key].(map[string]any)
		if !ok {
			continue
		}
		for name, v := range rules {
			if s.Rules == nil {
				s.Rules = map[string]string{}
			}
			name = strings.TrimPrefix(name, "ves.io.schema.rules.")
			value := fmt.Sprint(v)
			if old, ok := s.Rules[name]; ok && old != value {
				return fmt.Errorf("rule %s is both %q and %q", name, old, value)
			}
			s.Rules[name] = value
		}
	}
	for k, v := range m {
		group, ok := strings.CutPrefix(k, "x-ves-oneof-field-")
		if !ok {
			continue
		}
		var members []string
		text, _ := v.(string)
		if err := json.Unmarshal([]byte(text), &members); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if s.OneOf == nil {
			s.OneOf = map[string][]string{}
		}
		s.OneOf[group] = members
	}
	return nil
}

// merge folds src into dst (allOf): the union of their facts; a fact given
// twice with different values is an error rather than a silent choice.
func merge(dst, src *Schema) error {
	set := func(field string, d *string, v string) error {
		switch {
		case v == "" || *d == v:
		case *d == "":
			*d = v
		default:
			return fmt.Errorf("allOf gives %s both %q and %q", field, *d, v)
		}
		return nil
	}
	if err := set("schema_name", &dst.SchemaName, src.SchemaName); err != nil {
		return err
	}
	if err := set("type", &dst.Type, src.Type); err != nil {
		return err
	}
	if err := set("format", &dst.Format, src.Format); err != nil {
		return err
	}
	if err := set("recursive", &dst.Recursive, src.Recursive); err != nil {
		return err
	}
	if src.Enum != nil {
		if dst.Enum != nil && !slices.Equal(dst.Enum, src.Enum) {
			return fmt.Errorf("allOf gives two enums")
		}
		dst.Enum = src.Enum
	}
	if src.Default != nil {
		dst.Default = src.Default
	}
	for _, r := range src.Required {
		if !slices.Contains(dst.Required, r) {
			dst.Required = append(dst.Required, r)
		}
	}
	dst.XVesRequired = dst.XVesRequired || src.XVesRequired
	dst.ReadOnly = dst.ReadOnly || src.ReadOnly
	if src.Example != nil {
		dst.Example = src.Example
	}
	for k, v := range src.Rules {
		if dst.Rules == nil {
			dst.Rules = map[string]string{}
		}
		dst.Rules[k] = v
	}
	for k, v := range src.OneOf {
		if dst.OneOf == nil {
			dst.OneOf = map[string][]string{}
		}
		dst.OneOf[k] = v
	}
	for k, v := range src.Properties {
		if dst.Properties == nil {
			dst.Properties = map[string]*Schema{}
		}
		if old, ok := dst.Properties[k]; ok {
			if err := merge(old, v); err != nil {
				return fmt.Errorf("property %s: %w", k, err)
			}
			continue
		}
		dst.Properties[k] = v
	}
	if src.Items != nil {
		if dst.Items == nil {
			dst.Items = &Schema{}
		}
		if err := merge(dst.Items, src.Items); err != nil {
			return fmt.Errorf("items: %w", err)
		}
	}
	if src.AdditionalProperties != nil {
		if dst.AdditionalProperties == nil {
			dst.AdditionalProperties = &Schema{}
		}
		if err := merge(dst.AdditionalProperties, src.AdditionalProperties); err != nil {
			return fmt.Errorf("additionalProperties: %w", err)
		}
	}
	return nil
}
