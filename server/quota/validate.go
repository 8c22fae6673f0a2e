package quota

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"billing-api/server/fault"
	"billing-api/server/tenancy"
)

// limitKey is the vendor's rule for the keys of the limit maps.
var limitKey = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-._]*[a-zA-Z0-9]$`)

const (
	maxLimitKeyLen      = 512
	maxAnnotationKeyLen = 64
	maxAnnotationValLen = 1024
	maxDescriptionBytes = 1200
	maxMapEntries       = 256
	maxLabels           = 64
)

// CheckLimitKey records a violation unless key is a valid limit-map key.
func CheckLimitKey(v *fault.Violations, field, key string) {
	if len(key) == 0 || len(key) > maxLimitKeyLen || !limitKey.MatchString(key) {
		v.Add(field, "pattern", fmt.Sprintf("key must be 2-%d characters: a letter, then letters, digits, '-', '.' or '_', ending in a letter or digit", maxLimitKeyLen))
	}
}

// ObjectInput is what a client sends to create or replace a quota object.
type ObjectInput struct {
	Name string
	// Namespace is the body's metadata.namespace ("" when not sent).
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
	Description *string
	Disabled    bool
	Spec        Limits
}

// validate collects every broken rule of the input that the spec cannot
// express: map-key rules, label syntax, description bytes, path agreement.
func (in ObjectInput) validate(pathNamespace, pathName string, keys APIKeys) error {
	var v fault.Violations
	tenancy.CheckObjectName(&v, "metadata.name", in.Name)
	if in.Namespace != "" && in.Namespace != pathNamespace {
		v.Add("metadata.namespace", "const", fmt.Sprintf("must equal the namespace in the path (%q), not %q", pathNamespace, in.Namespace))
	}
	if pathName != "" && in.Name != pathName {
		v.Add("metadata.name", "const", fmt.Sprintf("must equal the name in the path (%q), not %q", pathName, in.Name))
	}
	if len(in.Labels) > maxLabels {
		v.Add("metadata.labels", "maxProperties", fmt.Sprintf("at most %d labels", maxLabels))
	}
	for _, k := range sortedKeys(in.Labels) {
		field := "metadata.labels" + fault.Key(k)
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			v.Add(field, "key", "label key "+strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(in.Labels[k]); len(errs) > 0 {
			v.Add(field, "value", "label value "+strings.Join(errs, "; "))
		}
	}
	for _, k := range sortedKeys(in.Annotations) {
		field := "metadata.annotations" + fault.Key(k)
		if len(k) == 0 || len(k) > maxAnnotationKeyLen {
			v.Add(field, "key", fmt.Sprintf("annotation keys are 1-%d characters", maxAnnotationKeyLen))
		}
		if n := len(in.Annotations[k]); n == 0 || n > maxAnnotationValLen {
			v.Add(field, "value", fmt.Sprintf("annotation values are 1-%d characters", maxAnnotationValLen))
		}
	}
	if in.Description != nil && len(*in.Description) > maxDescriptionBytes {
		v.Add("metadata.description", "maxBytes", fmt.Sprintf("at most %d bytes of UTF-8 (got %d)", maxDescriptionBytes, len(*in.Description)))
	}
	in.Spec.validate(&v, "spec", keys)
	return v.Err()
}

// ValidateLimits checks a set of limits (for example a plan's default
// quota); keys tells the two spellings of an API key apart (nil: none).
func ValidateLimits(l Limits, prefix string, keys APIKeys) error {
	if keys == nil {
		keys = SameKeys{}
	}
	var v fault.Violations
	l.validate(&v, prefix, keys)
	return v.Err()
}

func (l Limits) validate(v *fault.Violations, prefix string, keys APIKeys) {
	if prefix != "" {
		prefix += "."
	}
	if len(l.Objects) > maxMapEntries || len(l.Resources) > maxMapEntries || len(l.APIs) > maxMapEntries {
		v.Add(strings.TrimSuffix(prefix, "."), "maxProperties", fmt.Sprintf("at most %d entries per limit map", maxMapEntries))
	}
	for _, k := range sortedKeys(l.Objects) {
		field := prefix + "object_limits" + fault.Key(k)
		CheckLimitKey(v, field, k)
		if l.Objects[k] < Unlimited {
			v.Add(field+".maximum", "minimum", "must be -1 (unlimited) or more")
		}
	}
	for _, k := range sortedKeys(l.Resources) {
		field := prefix + "resource_limits" + fault.Key(k)
		CheckLimitKey(v, field, k)
		if m := l.Resources[k]; m != Unlimited && !(m >= 0 && !math.IsInf(m, 1)) {
			v.Add(field+".maximum", "minimum", "must be -1 (unlimited) or a finite amount of 0 or more")
		}
	}
	spelled := map[string]string{}
	for _, k := range sortedKeys(l.APIs) {
		field := prefix + "api_limits" + fault.Key(k)
		CheckLimitKey(v, field, k)
		c := keys.Canonical(k)
		if other, dup := spelled[c]; dup {
			v.Add(field, "unique", fmt.Sprintf("names the same operation as api_limits%s; use one of the two", fault.Key(other)))
		}
		spelled[c] = k
		r := l.APIs[k]
		if r.Rate < 1 {
			v.Add(field+".rate", "minimum", "must be at least 1")
		}
		if !r.Unit.Valid() {
			v.Add(field+".unit", "enum", "must be SECOND, MINUTE, HOUR or DAY")
		}
		if r.Burst != nil && *r.Burst < 0 {
			v.Add(field+".burst", "minimum", "must not be negative")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CheckDeleteBody checks the optional body of a delete against the path.
func CheckDeleteBody(pathNamespace, pathName, namespace, name string) error {
	var v fault.Violations
	if namespace != "" && namespace != pathNamespace {
		v.Add("namespace", "const", fmt.Sprintf("must equal the namespace in the path (%q)", pathNamespace))
	}
	if name != "" && name != pathName {
		v.Add("name", "const", fmt.Sprintf("must equal the name in the path (%q)", pathName))
	}
	return v.Err()
}
