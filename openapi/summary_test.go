package openapi

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

var update = flag.Bool("update", false, "rewrite the golden contract summaries from the specs")

// TestContractSummary guards the wire contract: it renders the operations and
// every schema's properties and types of each spec into a small text summary
// and compares it with the committed golden file. An accidental change to the
// contract fails here; a deliberate one is committed with `make golden`.
func TestContractSummary(t *testing.T) {
	t.Parallel()
	for spec, golden := range map[string]string{
		"billing.yaml": "billing.summary.txt",
		"admin.yaml":   "admin.summary.txt",
	} {
		t.Run(spec, func(t *testing.T) {
			doc, err := openapi3.NewLoader().LoadFromFile(spec)
			if err != nil {
				t.Fatal(err)
			}
			got := summarize(doc)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run `make golden` to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s no longer matches %s; the contract changed:\n%s\nIf the change is deliberate, run `make golden` and commit the result.",
					spec, golden, diffLines(string(want), got))
			}
		})
	}
}

// TestSpecsAreValid checks each spec with kin-openapi's own validation,
// examples included.
func TestSpecsAreValid(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"billing.yaml", "admin.yaml"} {
		doc, err := openapi3.NewLoader().LoadFromFile(spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(t.Context(), openapi3.EnableExamplesValidation()); err != nil {
			t.Errorf("%s: %v", spec, err)
		}
	}
}

func summarize(doc *openapi3.T) string {
	var b strings.Builder
	var ops []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			var params []string
			for _, p := range append(item.Parameters, op.Parameters...) {
				params = append(params, fmt.Sprintf("%s:%s=%s", p.Value.In, p.Value.Name, typeOf(p.Value.Schema)))
			}
			sort.Strings(params)
			body := "-"
			if op.RequestBody != nil {
				body = typeOf(op.RequestBody.Value.Content.Get("application/json").Schema)
				if !op.RequestBody.Value.Required {
					body += "?"
				}
			}
			ok := "-"
			if r := op.Responses.Status(200); r != nil {
				if mt := r.Value.Content.Get("application/json"); mt != nil {
					ok = typeOf(mt.Schema)
				}
			}
			security := "token"
			if op.Security != nil && len(*op.Security) == 0 {
				security = "none"
			}
			access := "-"
			if a, ok := op.Extensions["x-billing-access"].(string); ok {
				access = a
			}
			ops = append(ops, fmt.Sprintf("op %s %s %s params[%s] body=%s 200=%s security=%s access=%s",
				method, path, op.OperationID, strings.Join(params, ","), body, ok, security, access))
		}
	}
	sort.Strings(ops)
	for _, o := range ops {
		b.WriteString(o + "\n")
	}
	names := make([]string, 0, len(doc.Components.Schemas))
	for n := range doc.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := doc.Components.Schemas[n].Value
		fmt.Fprintf(&b, "schema %s %s\n", n, describe(s))
		props := make([]string, 0, len(s.Properties))
		for p := range s.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		for _, p := range props {
			fmt.Fprintf(&b, "  %s %s\n", p, typeOf(s.Properties[p]))
		}
	}
	return b.String()
}

// typeOf names a schema reference: the component name, or the inline type.
func typeOf(ref *openapi3.SchemaRef) string {
	if ref == nil {
		return "?"
	}
	if ref.Ref != "" {
		return ref.Ref[strings.LastIndex(ref.Ref, "/")+1:]
	}
	s := ref.Value
	if len(s.AllOf) == 1 {
		return typeOf(s.AllOf[0])
	}
	return describe(s)
}

func describe(s *openapi3.Schema) string {
	t := strings.Join(s.Type.Slice(), "|")
	if s.Format != "" {
		t += "/" + s.Format
	}
	switch {
	case s.Type.Is("array"):
		t += "<" + typeOf(s.Items) + ">"
	case s.AdditionalProperties.Schema != nil:
		t += "<string," + typeOf(s.AdditionalProperties.Schema) + ">"
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		t += " enum(" + strings.Join(vals, ",") + ")"
	}
	return t
}

func diffLines(want, got string) string {
	w, g := lineSet(want), lineSet(got)
	var out []string
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("... and %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

func lineSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(s, "\n") {
		m[l] = true
	}
	return m
}
