package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// A small description in the vendor's style: references behind allOf,
// requiredness in x-ves-required and in a validation rule, a one-of group,
// a read-only field, a recursive schema and prose that must not survive.
const sample = `{
  "info": {"title": "T", "version": "9.9.9", "description": "prose"},
  "paths": {
    "/api/web/namespaces/{metadata.namespace}/things": {
      "x-displayname": "Things",
      "post": {
        "operationId": "ves.io.schema.thing.API.Create",
        "description": "prose",
        "parameters": [{"name": "metadata.namespace", "in": "path", "required": true, "description": "prose", "schema": {"type": "string"}}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}}}
      }
    }
  },
  "components": {"schemas": {
    "Req": {
      "type": "object", "title": "prose", "description": "prose",
      "x-ves-oneof-field-choice": "[\"a\",\"b\"]",
      "properties": {
        "metadata": {"allOf": [{"$ref": "#/components/schemas/Meta"}], "description": "prose"},
        "a": {"allOf": [{"$ref": "#/components/schemas/Empty"}]},
        "b": {"allOf": [{"$ref": "#/components/schemas/Empty"}]},
        "kind": {"allOf": [{"type": "string", "enum": ["X", "Y"], "default": "X", "description": "prose"}]},
        "id": {"type": "string", "x-field-mutability": "read-only", "x-ves-example": "F68b."},
        "tree": {"$ref": "#/components/schemas/Tree"}
      }
    },
    "Meta": {
      "type": "object", "required": ["namespace"],
      "properties": {
        "name": {"type": "string", "x-ves-required": "true", "x-ves-example": "Example-corp-web.",
                 "x-ves-validation-rules": {"ves.io.schema.rules.message.required": "true"},
                 "x-validation-rules": {"ves.io.schema.rules.message.required": "true"}},
        "namespace": {"type": "string", "x-ves-validation-rules": {"ves.io.schema.rules.string.const": "system"}},
        "description": {"type": "string", "description": "prose", "x-ves-validation-rules": {"ves.io.schema.rules.string.max_bytes": "1200"}},
        "labels": {"type": "object", "x-ves-validation-rules": {"ves.io.schema.rules.map.keys.string.max_len": "64"}}
      }
    },
    "Empty": {"type": "object", "description": "prose"},
    "Tree": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}}}
  }}
}`

func TestExtractKeepsFactsOnly(t *testing.T) {
	f, err := extract([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "prose") || strings.Contains(string(out), "Things") {
		t.Fatalf("prose survived: %s", out)
	}
	if f.VendorVersion != "9.9.9" || len(f.Operations) != 1 {
		t.Fatalf("version %q, %d operations", f.VendorVersion, len(f.Operations))
	}
	op := f.Operations[0]
	if op.Method != "POST" || op.OperationID != "ves.io.schema.thing.API.Create" || len(op.Parameters) != 1 ||
		op.Parameters[0].Name != "metadata.namespace" || !op.Parameters[0].Required {
		t.Fatalf("operation %+v", op)
	}
	req := op.Body.Schema
	if req.SchemaName != "Req" || len(req.OneOf["choice"]) != 2 {
		t.Fatalf("request %+v", req)
	}
	meta := req.Properties["metadata"]
	name := meta.Properties["name"]
	if meta.SchemaName != "Meta" || meta.Required[0] != "namespace" || !name.XVesRequired ||
		name.Rules["message.required"] != "true" || name.Example != "Example-corp-web." {
		t.Fatalf("metadata %+v, name %+v", meta, name)
	}
	if meta.Properties["namespace"].Rules["string.const"] != "system" || meta.Properties["description"].Rules["string.max_bytes"] != "1200" ||
		meta.Properties["labels"].Rules["map.keys.string.max_len"] != "64" {
		t.Fatalf("rules lost: %+v", meta.Properties)
	}
	if kind := req.Properties["kind"]; kind.Type != "string" || len(kind.Enum) != 2 || kind.Default != "X" {
		t.Fatalf("kind %+v", kind)
	}
	if !req.Properties["id"].ReadOnly {
		t.Fatal("read-only lost")
	}
	if tree := req.Properties["tree"]; tree.Properties["children"].Items.Recursive != "Tree" {
		t.Fatalf("tree %+v", tree.Properties["children"].Items)
	}
}
