package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
)

// TestVendorRequestsAreAccepted sends what clients written against the
// vendor's description send, and fails on any refusal that is not one of
// our deliberate deviations.
//
// For every operation of the vendor's description (the committed fixture
// openapi/vendorref/requests.json, written by openapi/vendorref/genrequests), in
// namespace system and, where the path takes a namespace, in shop, it
// builds:
//
//   - minimal: only what the vendor requires. A property is required when
//     the vendor's `required` list names it or the property carries
//     `x-ves-required` or the rule `message.required`; an object holding a
//     required property is sent to hold it. Path parameters are always
//     sent, query parameters when the vendor marks them required.
//   - minimal as a client sends it that writes unset fields (proto JSON
//     with unpopulated fields emitted): the other scalars, enums, lists
//     and maps at their zero values.
//   - full: every property and parameter the vendor declares (read-only
//     ones included: the vendor's clients may send them), one member of
//     each of the vendor's one-of groups.
//   - one variant of full per other value of every enum in it.
//   - for initiatePlanTransition, one request per plan of the catalogue
//     carrying exactly what that plan's transition_flow.required_fields
//     ask for (the vendor's API tells its clients this way what to send).
//
// A value is chosen, first to last: a body field the vendor binds to a
// path parameter (`namespace`, `metadata.name`, ...) takes the path's
// value, as the vendor's gateway does; a field that must name something
// takes an object of the seeded tenant (vendorRefs); a `string.const`
// rule gives its value; an enum its first value; the vendor's example when
// it is valid for the vendor's own type, format and rules; else a value of
// the type and format.
//
// Each request must answer 2xx, or 4xx naming only fields whose refusal
// is a rule our spec states and docs/vendor-deviations.md lists (the table
// is parsed from the document, so the document and the test cannot
// disagree). The test then repairs what the deviations refused (it adds
// what we require, drops what we refuse, gives a value our spec accepts)
// and sends again, so whatever lies behind a deviation is tried too.
// Refusals in vendorPending are logged and skipped. Anything else fails,
// printing the request and the answer. It fails too when a deviation or a
// pending entry is never met: the table and the list stay current.
func TestVendorRequestsAreAccepted(t *testing.T) {
	t.Parallel()
	skipUnderRace(t)
	fx := loadVendorFixture(t)
	devs := loadVendorDeviations(t)
	ours := specOperations(t)
	pairs := pairVendorOperations(t, fx, ours)
	checkVendorDeviations(t, devs, ours)

	run := &vendorRun{devs: devs, met: map[string]bool{}, pendingMet: map[int]bool{}, reads: newSeeded(t)}
	var complete sync.Map
	t.Run("operations", func(t *testing.T) {
		for _, p := range pairs {
			t.Run(p.ours.ID, func(t *testing.T) {
				t.Parallel()
				if run.operation(t, p) {
					complete.Store(p.ours.ID, true)
				}
			})
		}
	})
	n := 0
	complete.Range(func(any, any) bool { n++; return true })
	t.Logf("%d cases: %d accepted as sent, %d accepted once listed deviations were repaired, %d refused by listed deviations, %d pending a fix",
		run.total, run.accepted, run.repaired, run.deviated, run.pending)
	if t.Failed() || n != len(pairs) {
		return // a partial run (-run) or a failure: the staleness checks would mislead
	}
	for _, d := range devs {
		for _, op := range d.ops {
			if !run.met[d.key(op)] {
				t.Errorf("docs/vendor-deviations.md lists %s %s (%s) but no vendor request met it: remove the row or the operation", op, d.field, d.rule)
			}
		}
	}
	for i, p := range vendorPending {
		if !run.pendingMet[i] {
			t.Errorf("vendorPending[%d] (%s) no longer happens: the fix is in, remove the entry", i, p.why)
		}
	}
}

// vendorPending are incompatibilities this test found that are not fixed
// yet: a refusal all of whose unlisted fields match entries here is logged
// and its case skipped. Empty it as the fixes land (the test fails on an
// entry nothing meets any more); an incompatibility judged deliberate
// moves to docs/vendor-deviations.md with its reason instead.
var vendorPending = []vendorPendingFix{}

type vendorPendingFix struct {
	ops      []string
	ns       string // "" for any
	variant  string // a prefix of the variant's name; "" for any
	fields   []string
	rule     string
	contains string // in the refusal's detail; "" for any
	why      string
}

func (p vendorPendingFix) matches(c *vendorCase, fe vendorRefusal) bool {
	return slices.Contains(p.ops, c.pair.ours.ID) && (p.ns == "" || p.ns == c.ns) &&
		strings.HasPrefix(c.variant, p.variant) && slices.Contains(p.fields, fe.field) && p.rule == fe.rule &&
		strings.Contains(fe.detail, p.contains)
}

// vendorRefs are the values of fields that must name something that
// exists (or that a real client takes from an earlier answer): keyed by
// our operation id and the field as the vendor names it (path:, query: or
// body: and its dotted path; oneof:<group> for the member of a one-of
// group). minimal is used in the minimal request and its repairs, full
// otherwise.
var vendorRefs = map[string]vendorRef{
	"getQuota path:name":              vendorBoth(vendorSeededQuota),
	"deleteQuota path:name":           vendorBoth(vendorSeededQuota),
	"replaceQuota path:metadata.name": vendorBoth(vendorSeededQuota),
	// Each role change is sent to a method whose role allows it.
	"makePaymentMethodPrimary path:name":   vendorBoth(func(c *vendorCase) any { return c.s.secondary }),
	"makePaymentMethodSecondary path:name": vendorBoth(func(c *vendorCase) any { return c.s.normal }),
	"swapPaymentMethodRole path:name":      vendorBoth(func(c *vendorCase) any { return c.s.primary }),
	"deletePaymentMethod path:name":        vendorBoth(func(c *vendorCase) any { return c.s.normal }),
	"downloadInvoicePdf query:name":        vendorBoth(func(c *vendorCase) any { return c.s.invoice }),
	"getPlanTransition query:id":           vendorBoth(func(c *vendorCase) any { return c.s.transition }),
	// A payment token is the provider's: the test provider takes tok_*.
	"createPaymentMethod body:token":                             vendorBoth(func(*vendorCase) any { return "tok_visa_4111" }),
	"initiatePlanTransition body:payload.payment_provider_token": vendorBoth(func(*vendorCase) any { return "tok_visa_4111" }),
	// acme is on INDIVIDUAL: FREE's flow needs nothing, TEAM's what full
	// carries.
	"initiatePlanTransition body:new_plan": {
		minimal: func(*vendorCase) any { return "FREE" },
		full:    func(*vendorCase) any { return "TEAM" },
	},
	// An add-on TEAM allows and does not include; the add-on acme has.
	"initiatePlanTransition body:payload.subscribe_addon_services":   vendorBoth(func(*vendorCase) any { return []any{"f5xc_waap_advanced"} }),
	"initiatePlanTransition body:payload.unsubscribe_addon_services": vendorBoth(func(*vendorCase) any { return []any{"f5xc_waap_standard"} }),
	// Windows over the seeded usage (November) and the running month.
	"listUsageDetails body:from":      vendorBoth(func(*vendorCase) any { return "2026-11-01T00:00:00Z" }),
	"listUsageDetails body:to":        vendorBoth(func(*vendorCase) any { return "2026-12-01T00:00:00Z" }),
	"listCurrentUsage body:from":      vendorBoth(func(*vendorCase) any { return "2026-12-01T00:00:00Z" }),
	"listCurrentUsage body:to":        vendorBoth(func(*vendorCase) any { return "2026-12-01T01:00:00Z" }),
	"getUsageSummary body:start_time": vendorBoth(func(*vendorCase) any { return "2026-11-01T00:00:00Z" }),
	"getUsageSummary body:end_time":   vendorBoth(func(*vendorCase) any { return "2026-12-01T00:00:00Z" }),
	// The query of a usage line of the namespace, as usage_details gave it.
	"listHourlyUsageDetails body:query": vendorBoth(func(c *vendorCase) any { return c.breakdownQuery() }),
	// An add-on INDIVIDUAL allows that acme lacks, and the one it has.
	"subscribeAddon oneof:addon_choice":   vendorBoth(func(*vendorCase) any { return "f5xc_content_delivery_network_standard" }),
	"unsubscribeAddon oneof:addon_choice": vendorBoth(func(*vendorCase) any { return "f5xc_waap_standard" }),
}

// vendorRef gives a field's value in the minimal request (and the
// requests built from it) and in the full one.
type vendorRef struct{ minimal, full func(c *vendorCase) any }

func vendorBoth(f func(c *vendorCase) any) vendorRef { return vendorRef{f, f} }

func vendorSeededQuota(c *vendorCase) any {
	if c.ns == "shop" {
		return "acme-shop-limits"
	}
	return "acme-limits"
}

// ---------------------------------------------------------------- the fixture

type vendorFixture struct {
	VendorVersion string            `json:"vendor_version"`
	SourceSHA256  string            `json:"source_sha256"`
	Operations    []vendorOperation `json:"operations"`
}

type vendorOperation struct {
	OperationID string        `json:"operation_id"`
	Method      string        `json:"method"`
	Path        string        `json:"path"`
	Parameters  []vendorParam `json:"parameters"`
	Body        *struct {
		Required bool          `json:"required"`
		Schema   *vendorSchema `json:"schema"`
	} `json:"body"`
}

type vendorParam struct {
	Name     string        `json:"name"`
	In       string        `json:"in"`
	Required bool          `json:"required"`
	Explode  *bool         `json:"explode"`
	Schema   *vendorSchema `json:"schema"`
}

type vendorSchema struct {
	SchemaName           string                   `json:"schema_name"`
	Type                 string                   `json:"type"`
	Format               string                   `json:"format"`
	Enum                 []string                 `json:"enum"`
	Default              any                      `json:"default"`
	Required             []string                 `json:"required"`
	XVesRequired         bool                     `json:"x_ves_required"`
	ReadOnly             bool                     `json:"read_only"`
	Example              any                      `json:"example"`
	Rules                map[string]string        `json:"rules"`
	OneOf                map[string][]string      `json:"one_of"`
	Properties           map[string]*vendorSchema `json:"properties"`
	Items                *vendorSchema            `json:"items"`
	AdditionalProperties *vendorSchema            `json:"additional_properties"`
	Recursive            string                   `json:"recursive"`
}

func loadVendorFixture(t *testing.T) vendorFixture {
	t.Helper()
	raw, err := os.ReadFile("../openapi/vendorref/requests.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx vendorFixture
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fx); err != nil {
		t.Fatalf("openapi/vendorref/requests.json: %v", err)
	}
	if len(fx.Operations) != 26 {
		t.Fatalf("the fixture has %d vendor operations, want 26", len(fx.Operations))
	}
	return fx
}

// requiredBy says whether the vendor requires property name of parent: its
// own required list, x-ves-required, or the rule message.required.
func vendorRequired(parent *vendorSchema, name string) bool {
	p := parent.Properties[name]
	return slices.Contains(parent.Required, name) || p.XVesRequired || p.Rules["message.required"] == "true"
}

// holdsRequired says whether an object has a required property at any depth.
func vendorHoldsRequired(s *vendorSchema) bool {
	for name, p := range s.Properties {
		if vendorRequired(s, name) || vendorHoldsRequired(p) {
			return true
		}
	}
	return false
}

// vendorPair is a vendor operation and ours.
type vendorPair struct {
	vendor vendorOperation
	ours   operation
}

var vendorTemplate = regexp.MustCompile(`\{[^}]+\}`)

// pairVendorOperations matches each vendor operation to ours by path shape
// and method, and checks that our x-vendor-operation-id agrees.
func pairVendorOperations(t *testing.T, fx vendorFixture, ours map[string]operation) []vendorPair {
	t.Helper()
	byShape := map[string]operation{}
	for _, op := range ours {
		byShape[strings.ToUpper(op.Method)+" "+vendorTemplate.ReplaceAllString(op.Path, "{}")] = op
	}
	var out []vendorPair
	seen := map[string]bool{}
	for _, v := range fx.Operations {
		op, ok := byShape[v.Method+" "+vendorTemplate.ReplaceAllString(v.Path, "{}")]
		if !ok {
			t.Errorf("the vendor's %s %s (%s) has no operation of that shape in openapi/billing.yaml", v.Method, v.Path, v.OperationID)
			continue
		}
		if op.VendorID != v.OperationID {
			t.Errorf("%s %s: our %s says x-vendor-operation-id %s, the vendor's is %s", v.Method, v.Path, op.ID, op.VendorID, v.OperationID)
		}
		seen[op.ID] = true
		out = append(out, vendorPair{vendor: v, ours: op})
	}
	for _, id := range sortedIDs(ours) {
		if !seen[id] {
			t.Errorf("our %s matches no vendor operation", id)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	slices.SortFunc(out, func(a, b vendorPair) int { return strings.Compare(a.ours.ID, b.ours.ID) })
	return out
}

// ---------------------------------------------------------------- deviations

// deviation is one row of the table in docs/vendor-deviations.md.
type vendorDeviation struct {
	ops    []string
	field  string // as our 400 names it: "path parameter namespace", "token"
	rule   string // the spec keyword: enum, required, pattern, ...
	value  string // the keyword's value in our spec ("" for required, readOnly)
	vendor string
	reason string
}

func (d vendorDeviation) key(op string) string { return op + " " + d.field + " " + d.rule }

// loadDeviations parses the table of docs/vendor-deviations.md: the
// document is the one list of deviations, read by people and by this test.
func loadVendorDeviations(t *testing.T) []vendorDeviation {
	t.Helper()
	f, err := os.Open("../docs/vendor-deviations.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []vendorDeviation
	inTable := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		cells := splitTableRow(line)
		if !inTable {
			if len(cells) == 5 && strings.EqualFold(cells[0], "operation") {
				inTable = true
			}
			continue
		}
		if strings.Trim(cells[0], "-: ") == "" {
			continue // the separator row
		}
		if len(cells) != 5 {
			t.Fatalf("docs/vendor-deviations.md: row %q has %d cells, want 5", line, len(cells))
		}
		d := vendorDeviation{field: unbacktick(cells[1]), vendor: cells[3], reason: cells[4]}
		for _, op := range strings.Split(cells[0], ",") {
			d.ops = append(d.ops, unbacktick(op))
		}
		rule := unbacktick(cells[2])
		d.rule, d.value, _ = strings.Cut(rule, ":")
		d.rule, d.value = strings.TrimSpace(d.rule), strings.TrimSpace(d.value)
		if d.field == "" || d.rule == "" || d.vendor == "" || d.reason == "" {
			t.Fatalf("docs/vendor-deviations.md: row %q lacks a cell", line)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("docs/vendor-deviations.md has no deviation table")
	}
	return out
}

// splitRow splits a markdown table row; `\|` is a literal bar.
func splitTableRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "|"), "|")
	var cells []string
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			b.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(b.String()))
			b.Reset()
		default:
			b.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(b.String()))
}

func unbacktick(s string) string { return strings.Trim(strings.TrimSpace(s), "`") }

// checkDeviationsAgainstSpec fails on a row whose rule our spec does not
// state, on that field of that operation, with that value: a deviation
// is a machine-readable rule of ours, never a check hidden in code.
func checkVendorDeviations(t *testing.T, devs []vendorDeviation, ours map[string]operation) {
	t.Helper()
	for _, d := range devs {
		for _, id := range d.ops {
			op, ok := ours[id]
			if !ok {
				t.Errorf("deviation %s %s: no operation %s", id, d.field, id)
				continue
			}
			if err := vendorSpecStates(op, d); err != nil {
				t.Errorf("deviation %s %s (%s: %s): %v", id, d.field, d.rule, d.value, err)
			}
		}
	}
}

// specStates checks that our spec has rule d on field d.field of op.
func vendorSpecStates(op operation, d vendorDeviation) error {
	schema, parent, required, err := specField(op, d.field)
	if err != nil {
		return err
	}
	num := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	unum := func(p *uint64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatUint(*p, 10)
	}
	var got string
	switch d.rule {
	case "required":
		if !required {
			return fmt.Errorf("our spec does not require it")
		}
		return nil
	case "readOnly":
		if schema == nil || !schema.ReadOnly {
			return fmt.Errorf("our spec does not mark it readOnly")
		}
		return nil
	case "additionalProperties":
		if schema != nil || parent == nil || parent.AdditionalProperties.Has == nil || *parent.AdditionalProperties.Has {
			return fmt.Errorf("our spec does not refuse it as an unknown property")
		}
		return nil
	}
	if schema == nil {
		return fmt.Errorf("our spec has no such field")
	}
	switch d.rule {
	case "enum":
		var vals []string
		for _, v := range schema.Enum {
			vals = append(vals, fmt.Sprint(v))
		}
		got = "[" + strings.Join(vals, ", ") + "]"
	case "pattern":
		got = schema.Pattern
	case "format":
		got = schema.Format
	case "minProperties":
		got = strconv.FormatUint(schema.MinProps, 10)
	case "maxProperties":
		got = unum(schema.MaxProps)
	case "minLength":
		got = strconv.FormatUint(schema.MinLength, 10)
	case "maxLength":
		got = unum(schema.MaxLength)
	case "minimum":
		got = num(schema.Min)
	case "maximum":
		got = num(schema.Max)
	case "maxItems":
		got = unum(schema.MaxItems)
	default:
		return fmt.Errorf("the test does not know the rule %q", d.rule)
	}
	if got != d.value {
		return fmt.Errorf("our spec says %s: %s", d.rule, got)
	}
	return nil
}

// ourField finds a field of our operation by the name our 400s give it:
// its schema (nil when the spec has no such field), the object holding it
// and whether the spec requires it.
func specField(op operation, field string) (schema, parent *openapi3.Schema, required bool, err error) {
	for _, in := range []string{openapi3.ParameterInPath, openapi3.ParameterInQuery} {
		if name, ok := strings.CutPrefix(field, in+" parameter "); ok {
			p := op.param(in, name)
			if p == nil {
				return nil, nil, false, fmt.Errorf("our spec has no %s parameter %s", in, name)
			}
			return p.Schema.Value, nil, p.Required, nil
		}
	}
	s := op.bodySchema()
	if s == nil {
		return nil, nil, false, fmt.Errorf("our operation takes no body")
	}
	if field == "request body" {
		return unwrapAllOf(s), nil, op.route.Operation.RequestBody.Value.Required, nil
	}
	for _, part := range strings.Split(field, ".") {
		parent = unwrapAllOf(s)
		if parent == nil {
			return nil, nil, false, fmt.Errorf("no field %s in our spec", field)
		}
		ref := parent.Properties[part]
		required = slices.Contains(parent.Required, part)
		if ref == nil {
			return nil, parent, required, nil
		}
		s = ref.Value
	}
	return unwrapAllOf(s), parent, required, nil
}

// ---------------------------------------------------------------- one case

// vendorCase is one request: an operation, a namespace, a variant.
type vendorCase struct {
	t       *testing.T
	s       *seeded
	pair    vendorPair
	ns      string
	variant string
	mode    vendorMode
	// set overrides fields of the built request (enum variants); setup
	// prepares the tenant first (through the API).
	set   map[string]any
	setup func(c *vendorCase)

	path  map[string]string // by the vendor's template names
	query url.Values
	body  any
	// queries caches breakdown queries per namespace.
	queries map[string]string
}

type vendorMode int

const (
	modeMinimal vendorMode = iota
	modeFull
	// modeUnset is minimal as a client that writes unset fields sends it
	// (proto JSON with unpopulated fields emitted): every other scalar,
	// enum, list and map of the objects sent at its zero value ("", 0,
	// false, the first enum value, [], {}); unset messages (objects,
	// timestamps) left out.
	modeUnset
)

// vendorRun runs the cases and keeps the tallies.
type vendorRun struct {
	devs []vendorDeviation
	// reads is the seeded data every operation that writes nothing shares:
	// its cases change nothing, so none of them needs a fresh copy.
	reads *seeded

	mu         sync.Mutex
	met        map[string]bool
	pendingMet map[int]bool
	// accepted as sent, accepted once deviations were repaired, refused by
	// deviations that cannot be repaired, pending a fix.
	total, accepted, repaired, deviated, pending int
}

// operation runs every case of one operation and reports whether all ran
// (none left out by -run).
func (r *vendorRun) operation(t *testing.T, p vendorPair) bool {
	var s *seeded
	fresh := func() *seeded {
		if s == nil {
			s = newSeeded(t)
		}
		return s
	}
	if p.ours.Access != AccessWrite {
		// Reads share one seeded copy (a case with a setup step, which
		// changes data, belongs to a write and gets its own).
		fresh = func() *seeded { return r.reads }
	}
	namespaces := []string{"system"}
	if p.ours.FixedNamespace == "" {
		namespaces = append(namespaces, "shop")
	}
	all := true
	for _, ns := range namespaces {
		for _, c := range vendorVariants(&vendorCase{t: t, s: fresh(), pair: p, ns: ns}) {
			c.s = fresh()
			ran := false
			var dirty bool
			t.Run(ns+"/"+c.variant, func(t *testing.T) {
				ran = true
				c.t = t
				var before dbRows
				if p.ours.Access == AccessWrite || c.setup != nil {
					before = snapshot(t, c.s.db, uuid.Nil)
					defer func() { dirty = len(before.changes(snapshot(t, c.s.db, uuid.Nil))) > 0 }()
				}
				r.send(c)
			})
			if !ran {
				all = false
			}
			if dirty {
				if p.ours.Access != AccessWrite {
					t.Fatalf("%s/%s changed the seeded data that every read shares", ns, c.variant)
				}
				s = nil // the next case starts from the seeded data again
			}
		}
	}
	return all
}

// vendorVariants lists the cases of one operation in one namespace.
func vendorVariants(base *vendorCase) []*vendorCase {
	mk := func(name string, m vendorMode) *vendorCase {
		c := *base
		c.variant, c.mode = name, m
		return &c
	}
	out := []*vendorCase{mk("minimal", modeMinimal), mk("minimal, unset fields as zero values", modeUnset), mk("full", modeFull)}
	// Every other value of every enum in the full request.
	full := mk("full", modeFull)
	full.build()
	for _, ef := range full.enumFields() {
		for _, v := range ef.values {
			if v == ef.used {
				continue
			}
			c := mk(fmt.Sprintf("full, %s=%s", strings.TrimPrefix(ef.key, "body:"), v), modeFull)
			c.set = map[string]any{ef.key: v}
			out = append(out, c)
		}
	}
	if base.pair.ours.ID == "initiatePlanTransition" {
		out = append(out, flowVariants(base, mk)...)
	}
	return out
}

// flowVariants are, for each plan of the catalogue, the request a client
// builds from the plan's transition_flow.required_fields: exactly the
// payload fields they name. A plan acme is on is first left for FREE.
func flowVariants(base *vendorCase, mk func(string, vendorMode) *vendorCase) []*vendorCase {
	t := base.t
	res := base.s.sr.do(t, base.s.e, http.MethodGet, "/api/web/namespaces/system/usage_plans/custom_list", nil, base.s.adminHeader())
	if res.Status != http.StatusOK {
		t.Fatalf("listUsagePlans: %d %s", res.Status, res.Body)
	}
	var cat struct {
		UsagePlans []struct {
			Plans []struct {
				Name           string `json:"name"`
				Current        bool   `json:"current"`
				TransitionFlow struct {
					RequiredFields []string `json:"required_fields"`
				} `json:"transition_flow"`
			} `json:"plans"`
		} `json:"usage_plans"`
	}
	if err := json.Unmarshal(res.Body, &cat); err != nil || len(cat.UsagePlans) == 0 {
		t.Fatalf("listUsagePlans: %v %s", err, res.Body)
	}
	var out []*vendorCase
	for _, pl := range cat.UsagePlans[0].Plans {
		c := mk("flow to "+pl.Name, modeMinimal)
		c.set = map[string]any{"body:new_plan": pl.Name}
		for _, f := range pl.TransitionFlow.RequiredFields {
			field, ok := map[string]string{
				"TRANSITION_REQUIRED_FIELD_PAYMENT_TOKEN": "body:payload.payment_provider_token",
				"TRANSITION_REQUIRED_FIELD_CONTACTS":      "body:payload.billing_address",
				"TRANSITION_REQUIRED_FIELD_DOMAIN":        "body:payload.domain",
			}[f]
			if !ok {
				t.Fatalf("plan %s requires %s, which the test cannot fill", pl.Name, f)
			}
			c.set[field] = nil // filled as the full request would be
		}
		if pl.Current {
			c.setup = func(c *vendorCase) {
				res := c.s.sr.do(c.t, c.s.e, http.MethodPost, "/api/web/namespaces/system/billing/plan_transition", `{"new_plan":"FREE"}`, c.s.adminHeader())
				if res.Status != http.StatusOK {
					c.t.Fatalf("leaving %s for FREE first: %d %s", pl.Name, res.Status, res.Body)
				}
			}
		}
		out = append(out, c)
	}
	return out
}

func (s *seeded) adminHeader() http.Header {
	return http.Header{"Authorization": {"APIToken " + s.admin}}
}

// build makes the case's request from the fixture.
func (c *vendorCase) build() {
	v := c.pair.vendor
	c.path, c.query, c.body = map[string]string{}, url.Values{}, nil
	for _, p := range v.Parameters {
		if p.In == "path" {
			c.path[p.Name] = fmt.Sprint(c.value("path:"+p.Name, p.Schema, c.mode))
		}
	}
	for _, p := range v.Parameters {
		if p.In != "query" || (c.mode != modeFull && !p.Required && !c.overrides("query:"+p.Name)) {
			continue
		}
		c.setQuery(p.Name, c.value("query:"+p.Name, p.Schema, c.mode))
	}
	if v.Body != nil {
		c.body = c.object("", v.Body.Schema, c.mode)
	}
	for _, key := range slices.Sorted(maps.Keys(c.set)) {
		val := c.set[key]
		if val == nil {
			val = c.value(key, c.vendorField(key), modeFull)
		}
		c.put(key, val)
	}
}

func (c *vendorCase) overrides(key string) bool {
	_, ok := c.set[key]
	return ok
}

func (c *vendorCase) setQuery(name string, v any) {
	c.query.Del(name)
	if arr, ok := v.([]any); ok {
		for _, item := range arr {
			c.query.Add(name, fmt.Sprint(item))
		}
		return
	}
	c.query.Set(name, fmt.Sprint(v))
}

// object builds an object of schema s at the dotted path prefix.
func (c *vendorCase) object(prefix string, s *vendorSchema, m vendorMode) map[string]any {
	out := map[string]any{}
	skip := map[string]bool{}
	for group, members := range s.OneOf {
		chosen := members[0]
		if ref, ok := vendorRefs[c.pair.ours.ID+" oneof:"+group]; ok {
			chosen = fmt.Sprint(c.pick(ref, m))
		}
		for _, name := range members {
			if name != chosen {
				skip[name] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
		p := s.Properties[name]
		key := "body:" + vendorJoin(prefix, name)
		include := vendorRequired(s, name) || (p.Type == "object" && vendorHoldsRequired(p))
		if m == modeFull && !skip[name] {
			include = true
		}
		if include {
			out[name] = c.value(key, p, m)
			continue
		}
		if m == modeUnset && !vendorOneOfMember(s, name) {
			if v, ok := c.unset(key, p); ok {
				out[name] = v
			}
		}
	}
	return out
}

// childKey is the key of property name of the object at key.
func vendorChildKey(key, name string) string {
	if strings.HasSuffix(key, ":") {
		return key + name
	}
	return key + "." + name
}

func vendorJoin(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// oneOfMember says whether property name belongs to a one-of group of s.
func vendorOneOfMember(s *vendorSchema, name string) bool {
	for _, members := range s.OneOf {
		if slices.Contains(members, name) {
			return true
		}
	}
	return false
}

// unset is the value a client that writes unset fields sends for an
// optional field, and false for one it leaves out (a message).
func (c *vendorCase) unset(key string, s *vendorSchema) (any, bool) {
	_, name, _ := strings.Cut(key, ":")
	_, bound := c.path[name]
	_, hasRef := vendorRefs[c.pair.ours.ID+" "+key]
	if bound || hasRef || s.Rules["string.const"] != "" {
		return c.value(key, s, modeUnset), true // set by the client whatever else it leaves
	}
	switch {
	case len(s.Enum) > 0:
		return s.Enum[0], true
	case s.Type == "string" && s.Format == "date-time":
		return nil, false // a timestamp is a message
	case s.Type == "string":
		return "", true
	case s.Type == "integer", s.Type == "number":
		return 0, true
	case s.Type == "boolean":
		return false, true
	case s.Type == "array":
		return []any{}, true
	case s.Type == "object" && s.Properties == nil && s.SchemaName == "":
		return map[string]any{}, true // a map (a message is a named schema)
	}
	return nil, false
}

func (c *vendorCase) pick(ref vendorRef, m vendorMode) any {
	if m != modeFull {
		return ref.minimal(c)
	}
	return ref.full(c)
}

// value chooses the value of one field (see the test's comment for the
// order).
func (c *vendorCase) value(key string, s *vendorSchema, m vendorMode) any {
	where, name, _ := strings.Cut(key, ":")
	if where == "path" && (name == "namespace" || name == "metadata.namespace") {
		return c.ns
	}
	ref, hasRef := vendorRefs[c.pair.ours.ID+" "+key]
	if where == "path" && !hasRef {
		c.t.Fatalf("%s: path parameter %s names an object: give it a value in vendorRefs", c.pair.ours.ID, name)
	}
	if where == "body" {
		if v, ok := c.path[name]; ok {
			return v
		}
	}
	if hasRef {
		return c.pick(ref, m)
	}
	if s == nil {
		c.t.Fatalf("%s: the vendor declares no %s and the test has no value for it", c.pair.ours.ID, key)
	}
	if v, ok := s.Rules["string.const"]; ok {
		return v
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if ex, ok := vendorExample(s); ok {
		return ex
	}
	switch s.Type {
	case "string":
		switch s.Format {
		case "date-time":
			return "2026-11-01T00:00:00Z"
		case "hostname":
			return "example.com"
		case "uuid":
			return uuid.NewString()
		}
		return "vendor"
	case "integer":
		return 1
	case "number":
		return 1.5
	case "boolean":
		return true
	case "array":
		return []any{c.value(key+"[]", s.Items, m)}
	case "object":
		switch {
		case s.Properties != nil:
			return c.object(name, s, m)
		case s.AdditionalProperties != nil:
			return map[string]any{c.mapKey(key, s): c.value(key+"[]", s.AdditionalProperties, m)}
		case s.Rules["map.values.string.min_len"] != "" || s.Rules["map.values.string.max_len"] != "":
			return map[string]any{c.mapKey(key, s): "vendor"} // the rules say the values are text
		}
		return map[string]any{} // a map whose values the vendor does not describe
	}
	c.t.Fatalf("%s %s: no value for type %q", c.pair.ours.ID, key, s.Type)
	return nil
}

// mapKey is the key of the one entry a map of the full request gets.
func (c *vendorCase) mapKey(key string, s *vendorSchema) string {
	const k = "vendor"
	if p, ok := s.Rules["map.keys.string.pattern"]; ok && !regexp.MustCompile(p).MatchString(k) {
		c.t.Fatalf("%s %s: the map key %q breaks the vendor's key pattern %s", c.pair.ours.ID, key, k, p)
	}
	return k
}

var vendorHostname = regexp.MustCompile(`^(?i:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.(?i:[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?))*$`)

// vendorExample is the vendor's example when it is a valid value by the
// vendor's own facts (type, format, enum, const and length rules); many
// are not ("2019-09-24T12:30:11.733Z." for a time, "Value" for a map).
func vendorExample(s *vendorSchema) (any, bool) {
	text, ok := s.Example.(string)
	if !ok {
		return nil, false
	}
	var v any
	switch s.Type {
	case "string":
		v = text
		if s.Format == "date-time" || s.Rules["string.query_time"] == "true" {
			if _, err := time.Parse(time.RFC3339, text); err != nil {
				return nil, false
			}
		}
		if s.Format == "hostname" && !vendorHostname.MatchString(text) {
			return nil, false
		}
		if n, err := strconv.Atoi(s.Rules["string.max_len"]); err == nil && len([]rune(text)) > n {
			return nil, false
		}
		if n, err := strconv.Atoi(s.Rules["string.max_bytes"]); err == nil && len(text) > n {
			return nil, false
		}
	case "integer":
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, false
		}
		v = n
	case "boolean":
		b, err := strconv.ParseBool(text)
		if err != nil {
			return nil, false
		}
		v = b
	default: // arrays and objects: only an example that is JSON of the type
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return nil, false
		}
		if _, isArr := v.([]any); isArr != (s.Type == "array") {
			return nil, false
		}
	}
	return v, true
}

// vendorField is the vendor's schema of a field key (nil if it has none).
func (c *vendorCase) vendorField(key string) *vendorSchema {
	where, name, _ := strings.Cut(key, ":")
	if where != "body" {
		for _, p := range c.pair.vendor.Parameters {
			if p.In == where && p.Name == name {
				return p.Schema
			}
		}
		return nil
	}
	if c.pair.vendor.Body == nil {
		return nil
	}
	s := c.pair.vendor.Body.Schema
	if name == "" {
		return s
	}
	for _, part := range strings.Split(name, ".") {
		if s == nil || s.Properties == nil {
			return nil
		}
		s = s.Properties[part]
	}
	return s
}

// enumField is an enum in the built request with its values.
type vendorEnumField struct {
	key    string
	used   string
	values []string
}

func (c *vendorCase) enumFields() []vendorEnumField {
	var out []vendorEnumField
	for _, p := range c.pair.vendor.Parameters {
		if p.In == "query" && len(p.Schema.Enum) > 0 {
			out = append(out, vendorEnumField{"query:" + p.Name, c.query.Get(p.Name), p.Schema.Enum})
		}
	}
	var walk func(prefix string, s *vendorSchema, v any)
	walk = func(prefix string, s *vendorSchema, v any) {
		obj, ok := v.(map[string]any)
		if !ok || s == nil {
			return
		}
		for _, name := range slices.Sorted(maps.Keys(obj)) {
			p := s.Properties[name]
			if p == nil {
				continue
			}
			if len(p.Enum) > 0 {
				out = append(out, vendorEnumField{"body:" + vendorJoin(prefix, name), fmt.Sprint(obj[name]), p.Enum})
			}
			walk(vendorJoin(prefix, name), p, obj[name])
		}
	}
	if c.pair.vendor.Body != nil {
		walk("", c.pair.vendor.Body.Schema, c.body)
	}
	return out
}

// put sets a field of the request (key as in value); a nil body map grows.
func (c *vendorCase) put(key string, v any) {
	where, name, _ := strings.Cut(key, ":")
	switch where {
	case "path":
		c.path[name] = fmt.Sprint(v)
	case "query":
		c.setQuery(name, v)
	case "body":
		if name == "" {
			c.body = v
			return
		}
		obj, _ := c.body.(map[string]any)
		if obj == nil {
			obj = map[string]any{}
			c.body = obj
		}
		parts := strings.Split(name, ".")
		for _, p := range parts[:len(parts)-1] {
			next, _ := obj[p].(map[string]any)
			if next == nil {
				next = map[string]any{}
				obj[p] = next
			}
			obj = next
		}
		obj[parts[len(parts)-1]] = v
	}
}

// drop removes a field of the body.
func (c *vendorCase) drop(key string) {
	_, name, _ := strings.Cut(key, ":")
	obj, _ := c.body.(map[string]any)
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		obj, _ = obj[p].(map[string]any)
	}
	delete(obj, parts[len(parts)-1])
}

// get reads a field of the request as sent.
func (c *vendorCase) get(key string) (any, bool) {
	where, name, _ := strings.Cut(key, ":")
	switch where {
	case "path":
		v, ok := c.path[name]
		return v, ok
	case "query":
		vs, ok := c.query[name]
		if !ok {
			return nil, false
		}
		return vs[0], true
	}
	if name == "" {
		return c.body, c.body != nil
	}
	obj, _ := c.body.(map[string]any)
	parts := strings.Split(name, ".")
	for _, p := range parts[:len(parts)-1] {
		obj, _ = obj[p].(map[string]any)
	}
	v, ok := obj[parts[len(parts)-1]]
	return v, ok
}

// url is the request's path and query, from the vendor's template.
func (c *vendorCase) url() string {
	p := vendorTemplate.ReplaceAllStringFunc(c.pair.vendor.Path, func(m string) string {
		return url.PathEscape(c.path[strings.Trim(m, "{}")])
	})
	if q := c.query.Encode(); q != "" {
		p += "?" + q
	}
	return p
}

// breakdownQuery is the hourly_breakdown_query of a usage line of the
// case's namespace, as usage_details answers it.
func (c *vendorCase) breakdownQuery() string {
	if q, ok := c.queries[c.ns]; ok {
		return q
	}
	res := c.s.sr.do(c.t, c.s.e, http.MethodPost, "/api/web/namespaces/"+c.ns+"/usage_details",
		`{"from":"2026-11-01T00:00:00Z","to":"2026-12-01T00:00:00Z"}`, c.s.adminHeader())
	var out struct {
		UsageItems []struct {
			Query string `json:"hourly_breakdown_query"`
		} `json:"usage_items"`
	}
	if err := json.Unmarshal(res.Body, &out); res.Status != http.StatusOK || err != nil || len(out.UsageItems) == 0 {
		c.t.Fatalf("usage lines of %s: %d %s", c.ns, res.Status, res.Body)
	}
	if c.queries == nil {
		c.queries = map[string]string{}
	}
	c.queries[c.ns] = out.UsageItems[0].Query
	return c.queries[c.ns]
}

// ourKey turns a field as our 400 names it into a request key.
func (c *vendorCase) ourKey(field string) (string, bool) {
	if name, ok := strings.CutPrefix(field, "path parameter "); ok {
		// Our template names differ from the vendor's; the positions agree.
		ours := c.pair.ours.pathParams
		vendor := vendorTemplate.FindAllString(c.pair.vendor.Path, -1)
		if i := slices.Index(ours, name); i >= 0 && i < len(vendor) {
			return "path:" + strings.Trim(vendor[i], "{}"), true
		}
		return "", false
	}
	if name, ok := strings.CutPrefix(field, "query parameter "); ok {
		return "query:" + name, true
	}
	if field == "request body" {
		return "body:", true
	}
	if strings.ContainsAny(field, "[] ") {
		return "", false
	}
	return "body:" + field, true
}

// ---------------------------------------------------------------- answers

// refusedField is one field a 400 names, with the rule it breaks.
type vendorRefusal struct {
	field, detail, rule string
}

var (
	vendorRuleSuffix  = regexp.MustCompile(`^(.*) \((\w+)\)$`)
	vendorUnsupported = regexp.MustCompile(`^property "([^"]+)" is unsupported$`)
)

// refusedFields parses a 400's message: "invalid request: f: detail (rule);
// ...". A "properties" refusal names the unknown property as the field.
func vendorRefusals(msg string) []vendorRefusal {
	_, list, ok := strings.Cut(msg, ": ")
	if !ok || !strings.HasPrefix(msg, "invalid request") {
		return nil
	}
	var parts []string
	for _, p := range strings.Split(list, "; ") {
		if len(parts) > 0 && (strings.HasPrefix(p, "given: ") || strings.HasPrefix(p, "allowed: ")) {
			parts[len(parts)-1] += "; " + p
			continue
		}
		parts = append(parts, p)
	}
	var out []vendorRefusal
	for _, p := range parts {
		field, rest, _ := strings.Cut(p, ": ")
		f := vendorRefusal{field: field, detail: rest}
		if m := vendorRuleSuffix.FindStringSubmatch(rest); m != nil {
			f.detail, f.rule = m[1], m[2]
		}
		if m := vendorUnsupported.FindStringSubmatch(f.detail); m != nil && f.rule == "properties" {
			if f.field == "request body" {
				f.field = m[1]
			} else {
				f.field += "." + m[1]
			}
			f.rule = "additionalProperties"
		}
		out = append(out, f)
	}
	return out
}

// send sends the case, repairing what listed deviations refuse, until it
// is accepted, refused only by deviations that cannot be repaired, or
// refused otherwise.
func (r *vendorRun) send(c *vendorCase) {
	t := c.t
	c.build()
	if c.setup != nil {
		c.setup(c)
	}
	r.count(func() { r.total++ })
	var log []string
	for attempt := 0; ; attempt++ {
		body, _ := json.Marshal(c.body)
		var sent any
		if c.body != nil {
			sent = body
		}
		res := c.s.sr.do(t, c.s.e, c.pair.vendor.Method, c.url(), sent, c.s.adminHeader())
		exchange := fmt.Sprintf("%s %s\n  body: %s\n  answer: %d %s", c.pair.vendor.Method, c.url(), vendorBodyText(c.body, body), res.Status, res.Body)
		switch {
		case res.Status < 300:
			if len(log) > 0 {
				t.Logf("accepted after repairing deviations:\n  %s\n%s", strings.Join(log, "\n  "), exchange)
				r.count(func() { r.repaired++ })
			} else {
				r.count(func() { r.accepted++ })
			}
			return
		case res.Status >= 500:
			t.Fatalf("%s in %s (%s): a server error\n%s", c.pair.ours.ID, c.ns, c.variant, exchange)
		}
		fields := vendorRefusals(res.errorBody(t).Message)
		if res.Status != http.StatusBadRequest || len(fields) == 0 {
			t.Fatalf("%s in %s (%s): refused by no rule of the spec\n%s", c.pair.ours.ID, c.ns, c.variant, exchange)
		}
		var unlisted []vendorRefusal
		var matched []vendorDeviation
		for _, fe := range fields {
			d, ok := r.deviationFor(c, fe)
			if !ok {
				unlisted = append(unlisted, fe)
				continue
			}
			matched = append(matched, d)
		}
		if len(unlisted) > 0 {
			var whys []string
			met := map[int]bool{}
			for _, fe := range unlisted {
				for i, p := range vendorPending {
					if p.matches(c, fe) {
						if !met[i] {
							whys = append(whys, p.why)
						}
						met[i] = true
						break
					}
				}
			}
			if len(met) > 0 && len(whys) > 0 && allVendorPending(c, unlisted) {
				r.count(func() {
					for i := range met {
						r.pendingMet[i] = true
					}
					r.pending++
				})
				t.Skipf("pending fix: %s\n%s", strings.Join(whys, "; "), exchange)
			}
			var b strings.Builder
			for _, fe := range unlisted {
				fmt.Fprintf(&b, "\n  %s: %s (%s)", fe.field, fe.detail, fe.rule)
			}
			if len(log) > 0 {
				fmt.Fprintf(&b, "\nafter repairing:\n  %s", strings.Join(log, "\n  "))
			}
			t.Fatalf("%s in %s (%s): refused by what docs/vendor-deviations.md does not list:%s\n%s", c.pair.ours.ID, c.ns, c.variant, b.String(), exchange)
		}
		if attempt == 8 {
			t.Fatalf("%s in %s (%s): repairing deviations does not end:\n  %s\n%s", c.pair.ours.ID, c.ns, c.variant, strings.Join(log, "\n  "), exchange)
		}
		repaired := true
		for _, d := range matched {
			note, ok := c.repair(d)
			if !ok {
				repaired = false
				break
			}
			log = append(log, note)
		}
		if !repaired {
			t.Logf("refused by listed deviations only:\n%s", exchange)
			r.count(func() { r.deviated++ })
			return
		}
	}
}

// allPending says whether every refused field matches a pending entry.
func allVendorPending(c *vendorCase, fields []vendorRefusal) bool {
	for _, fe := range fields {
		if !slices.ContainsFunc(vendorPending, func(p vendorPendingFix) bool { return p.matches(c, fe) }) {
			return false
		}
	}
	return true
}

func (r *vendorRun) count(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

func vendorBodyText(v any, raw []byte) string {
	if v == nil {
		return "(none)"
	}
	return string(raw)
}

// deviationFor finds the listed deviation a refused field is, and checks
// that the request really breaks that rule as our spec states it.
func (r *vendorRun) deviationFor(c *vendorCase, fe vendorRefusal) (vendorDeviation, bool) {
	for _, d := range r.devs {
		if d.field != fe.field || d.rule != fe.rule || !slices.Contains(d.ops, c.pair.ours.ID) {
			continue
		}
		if err := c.breaks(d); err != nil {
			c.t.Errorf("%s is refused as deviation %s (%s), but %v", fe.field, d.field, d.rule, err)
			return vendorDeviation{}, false
		}
		r.count(func() { r.met[d.key(c.pair.ours.ID)] = true })
		return d, true
	}
	return vendorDeviation{}, false
}

// breaks checks that the request as sent breaks rule d of our spec (so a
// refusal for another reason that happens to name the same field and rule
// is not taken for the deviation).
func (c *vendorCase) breaks(d vendorDeviation) error {
	key, ok := c.ourKey(d.field)
	if !ok {
		return fmt.Errorf("the test cannot read field %s", d.field)
	}
	v, present := c.get(key)
	if d.rule == "required" {
		if present {
			return fmt.Errorf("it was sent")
		}
		return nil
	}
	if !present {
		return fmt.Errorf("it was not sent")
	}
	schema, _, _, err := specField(c.pair.ours, d.field)
	if err != nil {
		return err
	}
	switch d.rule {
	case "readOnly", "additionalProperties":
		return nil // present is the whole rule
	case "enum":
		for _, e := range schema.Enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				return fmt.Errorf("%v is one of the allowed values", v)
			}
		}
	case "pattern":
		if regexp.MustCompile(schema.Pattern).MatchString(fmt.Sprint(v)) {
			return fmt.Errorf("%v matches the pattern", v)
		}
	case "minProperties":
		if obj, _ := v.(map[string]any); uint64(len(obj)) >= schema.MinProps {
			return fmt.Errorf("%d properties were sent", len(obj))
		}
	case "maxLength":
		if schema.MaxLength != nil && uint64(len([]rune(fmt.Sprint(v)))) <= *schema.MaxLength {
			return fmt.Errorf("%q is not too long", v)
		}
	default:
		return fmt.Errorf("the test cannot check the rule %s", d.rule)
	}
	return nil
}

// repair changes the request so that it meets deviation d: what we
// require is added (with the value the vendor's client would give it),
// what we refuse is dropped, a value we refuse is replaced by our spec's
// example. A path parameter cannot be repaired: the case ends there.
func (c *vendorCase) repair(d vendorDeviation) (string, bool) {
	key, ok := c.ourKey(d.field)
	if !ok || strings.HasPrefix(key, "path:") {
		return "", false
	}
	switch d.rule {
	case "required":
		v := c.value(key, c.vendorField(key), c.mode)
		c.put(key, v)
		return fmt.Sprintf("%s: added %s", d.field, vendorJSON(v)), true
	case "readOnly", "additionalProperties":
		c.drop(key)
		return d.field + ": dropped", true
	case "minProperties":
		s := c.vendorField(key)
		if s == nil || len(s.OneOf) == 0 {
			return "", false
		}
		set := map[string]any{}
		for group, members := range s.OneOf {
			chosen := members[0]
			if ref, ok := vendorRefs[c.pair.ours.ID+" oneof:"+group]; ok {
				chosen = fmt.Sprint(c.pick(ref, c.mode))
			}
			set[chosen] = c.value(vendorChildKey(key, chosen), s.Properties[chosen], c.mode)
			c.put(vendorChildKey(key, chosen), set[chosen])
		}
		return fmt.Sprintf("%s: set %s", d.field, vendorJSON(set)), true
	}
	schema, _, _, err := specField(c.pair.ours, d.field)
	if err != nil || schema == nil || schema.Example == nil {
		return "", false
	}
	c.put(key, schema.Example)
	return fmt.Sprintf("%s: %s instead", d.field, vendorJSON(schema.Example)), true
}

func vendorJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
