package openapi

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"
)

// releasedBilling is the last released billing contract: what clients in the
// field were built against. Cutting a release replaces it
// (docs/code-generation.md, "Releasing the spec").
const releasedBilling = "released/billing.yaml"

// TestNoBreakingChangeSinceRelease is the breaking-change guard: billing.yaml
// may grow, but every change oasdiff rates ERR against the released copy fails
// here (what `make breaking` prints with the pinned CLI). A deliberate break is
// released in the same change: copy billing.yaml over released/billing.yaml
// with a new major info.version.
func TestNoBreakingChangeSinceRelease(t *testing.T) {
	t.Parallel()
	released, err := os.ReadFile(releasedBilling)
	if err != nil {
		t.Fatal(err)
	}
	base := specInfo(t, releasedBilling, loadSpec(t, released))
	revision := specInfo(t, "billing.yaml", loadSpec(t, BillingYAML))
	changes := breakingChanges(t, base, revision)
	for _, c := range changes {
		t.Errorf("breaking change: %s", changeText(c))
	}
	if len(changes) > 0 {
		t.Log("billing.yaml breaks clients of the released contract. Undo the change, or release it on purpose: " +
			"copy billing.yaml to released/billing.yaml with a new major info.version in the same change (docs/code-generation.md, \"Releasing the spec\").")
	}
}

// TestReleasedVersionIsNotAhead keeps the two versions in order: billing.yaml
// is the released contract plus what has come since, never older.
func TestReleasedVersionIsNotAhead(t *testing.T) {
	t.Parallel()
	released, err := os.ReadFile(releasedBilling)
	if err != nil {
		t.Fatal(err)
	}
	rel := semver(t, releasedBilling, loadSpec(t, released).Info.Version)
	cur := semver(t, "billing.yaml", loadSpec(t, BillingYAML).Info.Version)
	if slices.Compare(cur, rel) < 0 {
		t.Errorf("billing.yaml's info.version %v is older than the released %v", cur, rel)
	}
}

// TestBreakingChangeGuardCatchesBreaks proves the guard: each mutation of a
// copy of billing.yaml must be reported with the named oasdiff check, and the
// additive ones must pass.
func TestBreakingChangeGuardCatchesBreaks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(t *testing.T, doc *openapi3.T)
		want   string // the oasdiff check id expected at ERR; "" means no ERR at all
	}{
		{"remove an operation", func(t *testing.T, doc *openapi3.T) {
			item := doc.Paths.Value("/api/web/namespaces/{namespace}/usage/invoices/custom_list")
			if item == nil || item.Get == nil {
				t.Fatal("listInvoices is not in the spec any more; pick another operation")
			}
			item.Get = nil
		}, "api-removed-without-deprecation"},
		{"add a required request property", func(t *testing.T, doc *openapi3.T) {
			s := schema(t, doc, "payment_methodCreatePaymentMethodRequest")
			s.Properties["billing_reference"] = openapi3.NewStringSchema().NewRef()
			s.Required = append(s.Required, "billing_reference")
		}, "new-required-request-property"},
		{"narrow a request enum", func(t *testing.T, doc *openapi3.T) {
			s := schema(t, doc, "contactContactType")
			s.Enum = slices.DeleteFunc(s.Enum, func(v any) bool { return v == "PAYMENT" })
		}, "request-property-enum-value-removed"},
		{"change a response property's type", func(t *testing.T, doc *openapi3.T) {
			s := schema(t, doc, "invoiceInvoiceType").Properties["amount"].Value
			s.Type, s.Format, s.Pattern = &openapi3.Types{openapi3.TypeInteger}, "int64", ""
		}, "response-property-type-changed"},
		{"add an optional response property", func(t *testing.T, doc *openapi3.T) {
			s := openapi3.NewDateTimeSchema()
			s.Description = "When payment is due."
			schema(t, doc, "invoiceInvoiceType").Properties["due_at"] = s.NewRef()
		}, ""},
		{"reword descriptions", func(t *testing.T, doc *openapi3.T) {
			doc.Info.Description += "\nReworded."
			schema(t, doc, "invoiceInvoiceType").Description = "One invoice of the tenant."
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := specInfo(t, "billing.yaml", loadSpec(t, BillingYAML))
			mutated := loadSpec(t, BillingYAML)
			tc.mutate(t, mutated)
			changes := breakingChanges(t, base, specInfo(t, "mutated billing.yaml", mutated))
			var ids []string
			for _, c := range changes {
				ids = append(ids, c.GetId())
				t.Logf("reported: %s", changeText(c))
			}
			switch {
			case tc.want == "" && len(changes) > 0:
				t.Errorf("a non-breaking change was reported as breaking: %v", ids)
			case tc.want != "" && !slices.Contains(ids, tc.want):
				t.Errorf("want the breaking change %q reported, got %v", tc.want, ids)
			}
		})
	}
}

// breakingChanges runs oasdiff's checks with their default levels, as
// `oasdiff breaking --fail-on ERR` does, and keeps the ERR ones.
func breakingChanges(t *testing.T, base, revision *load.SpecInfo) checker.Changes {
	t.Helper()
	d, sources, err := diff.GetWithOperationsSourcesMap(diff.NewConfig(), base, revision)
	if err != nil {
		t.Fatal(err)
	}
	return checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.ERR)
}

func changeText(c checker.Change) string {
	return strings.TrimSpace(c.SingleLineError(checker.NewDefaultLocalizer(), checker.ColorNever))
}

func loadSpec(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func specInfo(t *testing.T, name string, doc *openapi3.T) *load.SpecInfo {
	t.Helper()
	return &load.SpecInfo{Url: name, Spec: doc, Version: doc.Info.Version}
}

func schema(t *testing.T, doc *openapi3.T, name string) *openapi3.Schema {
	t.Helper()
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("schema %s is not in the spec any more; pick another", name)
	}
	return ref.Value
}

// semver reads MAJOR.MINOR.PATCH; a release's version must have that form.
func semver(t *testing.T, file, version string) []int {
	t.Helper()
	parts := strings.Split(version, ".")
	if len(parts) != 3 {
		t.Fatalf("%s: info.version %q is not MAJOR.MINOR.PATCH", file, version)
	}
	out := make([]int, 3)
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			t.Fatalf("%s: info.version %q is not MAJOR.MINOR.PATCH", file, version)
		}
		out[i] = n
	}
	return out
}
