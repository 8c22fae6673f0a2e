package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// operation is one measured request of the server, with the baseline
// request it is compared to. Requests are built from the seeded fixture and
// n, the request's sequence number in its phase, so writes differ from one
// request to the next and reads spread over the objects.
type operation struct {
	// Name labels the operation in the report.
	Name string
	// OperationID is the spec's operation id when the request passes the
	// tenant's rate limiter; the seeding lifts its api_limits entry.
	OperationID string
	Method      string
	Path        func(f *Fixture, n uint64) string
	// Body is nil for requests without one.
	Body func(f *Fixture, n uint64) []byte
	// Operator sends the request to the operator API with the operator
	// token instead of the large tenant's API token.
	Operator bool
	// SharedLimits sends the request to the second server process, whose
	// rate-limit buckets are in Redis (--redis-url): every request then
	// takes its token there, one round trip. Left out without a Redis.
	SharedLimits bool
	// RecordsPerRequest, for an operation that stores a batch of rows per
	// request (on both sides), is the batch's size: the report gives its
	// rows per second too.
	RecordsPerRequest int
	// Check, when set, vets the server's answer to one request before the
	// measurements start (an operation answering 200 with nothing in it
	// would measure nothing).
	Check    func(f *Fixture, body []byte) error
	Baseline baselineRequest
}

// operations are measured in this order. A later domain adds its rows here
// (and its seed data in seed.go).
var operations = []operation{
	{
		Name: "healthz", Method: http.MethodGet,
		Path:     func(*Fixture, uint64) string { return "/healthz" },
		Baseline: basePing,
	},
	{
		Name: "getQuota", OperationID: "getQuota", Method: http.MethodGet,
		Path: func(f *Fixture, n uint64) string {
			return fmt.Sprintf("/api/web/namespaces/%s/quotas/%s", f.ListNamespace, f.quotaName(n))
		},
		Baseline: baseGet,
	},
	{
		// getQuota again, on the server whose rate limits are in Redis:
		// against getQuota's row, what a shared bucket costs a request.
		Name: "getQuota (Redis limits)", OperationID: "getQuota", Method: http.MethodGet, SharedLimits: true,
		Path: func(f *Fixture, n uint64) string {
			return fmt.Sprintf("/api/web/namespaces/%s/quotas/%s", f.ListNamespace, f.quotaName(n))
		},
		Baseline: baseGet,
	},
	{
		Name: "getCurrentPlan", OperationID: "getCurrentPlan", Method: http.MethodGet,
		Path:     func(*Fixture, uint64) string { return "/api/web/namespaces/system/usage_plans/current" },
		Baseline: baseGet,
	},
	{
		Name: "getQuotaLimits", OperationID: "getQuotaLimits", Method: http.MethodGet,
		Path: func(f *Fixture, _ uint64) string {
			return fmt.Sprintf("/api/web/namespaces/%s/quota/limits", f.ListNamespace)
		},
		Baseline: baseGet,
	},
	{
		Name: "getQuotaUsage", OperationID: "getQuotaUsage", Method: http.MethodGet,
		Path: func(f *Fixture, _ uint64) string {
			return fmt.Sprintf("/api/web/namespaces/%s/quota/usage", f.ListNamespace)
		},
		Baseline: baseGet,
	},
	{
		Name: "listQuotas", OperationID: "listQuotas", Method: http.MethodGet,
		Path: func(f *Fixture, _ uint64) string {
			return fmt.Sprintf("/api/web/namespaces/%s/quotas", f.ListNamespace)
		},
		Baseline: baseGet,
	},
	{
		Name: "listSubscriptions", OperationID: "listSubscriptions", Method: http.MethodGet,
		Path:     func(*Fixture, uint64) string { return "/api/web/namespaces/system/subscriptions/custom_list" },
		Baseline: baseGet,
	},
	{
		// Every invoice, as a billing page opens: the running month's
		// pending one, then the invoiceMonths issued ones.
		Name: "listInvoices", OperationID: "listInvoices", Method: http.MethodGet,
		Path:     func(*Fixture, uint64) string { return "/api/web/namespaces/system/usage/invoices/custom_list" },
		Check:    checkInvoices,
		Baseline: baseGet,
	},
	{
		// Public: no token, limited per client address (lifted for the
		// harness, see startServers).
		Name: "getPlanTransition", Method: http.MethodGet,
		Path: func(f *Fixture, _ uint64) string {
			return "/no_auth/namespaces/system/billing/plan_transition?id=" + f.TransitionID.String()
		},
		Baseline: baseGet,
	},
	{
		Name: "replaceQuota", OperationID: "replaceQuota", Method: http.MethodPut,
		Path: func(f *Fixture, n uint64) string {
			return fmt.Sprintf("/api/web/namespaces/%s/quotas/%s", f.ListNamespace, f.quotaName(n))
		},
		// A new label value and limit every time, so each request really
		// changes the row.
		Body: func(f *Fixture, n uint64) []byte {
			return fmt.Appendf(nil, `{"metadata":{"name":%q,"namespace":%q,"labels":{"team":"web","rev":"r%d"},`+
				`"description":"Replaced by the benchmark."},"spec":{"object_limits":{"origin_pool":{"maximum":%d},`+
				`"http_loadbalancer":{"maximum":50}},"resource_limits":{"storage_gib":{"maximum":500}}}}`,
				f.quotaName(n), f.ListNamespace, n, 100+n%100)
		},
		Baseline: basePut,
	},
	{
		// The usage reads are POSTs with their window in the body, reads
		// all the same (x-billing-access: read): their counterpart is the
		// baseline's read.
		Name: "listUsageDetails", OperationID: "listUsageDetails", Method: http.MethodPost,
		Path:     func(*Fixture, uint64) string { return "/api/web/namespaces/system/usage_details" },
		Body:     func(f *Fixture, _ uint64) []byte { return f.usageDetailsBody() },
		Check:    checkUsageDetails,
		Baseline: baseGet,
	},
	{
		// Month to date, the spec's default: the running bill a dashboard shows.
		Name: "listCurrentUsage", OperationID: "listCurrentUsage", Method: http.MethodPost,
		Path:     func(*Fixture, uint64) string { return "/api/web/namespaces/system/current_usage" },
		Body:     func(*Fixture, uint64) []byte { return []byte(`{}`) },
		Check:    checkCurrentUsage,
		Baseline: baseGet,
	},
	{
		Name: "getUsageSummary", OperationID: "getUsageSummary", Method: http.MethodPost,
		Path:     func(*Fixture, uint64) string { return "/api/data/namespaces/system/billing/usage_summary" },
		Body:     func(f *Fixture, _ uint64) []byte { return f.usageSummaryBody() },
		Check:    checkUsageSummary,
		Baseline: baseGet,
	},
	{
		// Batches of fresh records (ingestBody) through the operator API,
		// which passes no tenant rate limit, against one COPY of the same
		// records into an indexed table.
		Name: "ingestUsage", Method: http.MethodPost, Operator: true, RecordsPerRequest: ingestBatchRecords,
		Path:     func(*Fixture, uint64) string { return "/admin/v1/usage_records" },
		Body:     func(f *Fixture, n uint64) []byte { return f.ingestBody(n) },
		Check:    checkIngested,
		Baseline: baseCopy,
	},
}

// checkInvoices wants the large tenant's invoiceMonths issued invoices in
// the list.
func checkInvoices(_ *Fixture, body []byte) error {
	var rsp struct {
		Invoices []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"invoices"`
	}
	if err := json.Unmarshal(body, &rsp); err != nil {
		return err
	}
	issued := 0
	for _, inv := range rsp.Invoices {
		if strings.HasPrefix(inv.Name, "INV-") && inv.Status != "STATUS_PENDING" {
			issued++
		}
	}
	if issued < invoiceMonths {
		return fmt.Errorf("%d issued invoices listed, want at least %d: %s", issued, invoiceMonths, body)
	}
	return nil
}

// quotaName spreads requests over the namespace's objects.
func (f *Fixture) quotaName(n uint64) string { return f.QuotaNames[n%uint64(len(f.QuotaNames))] }

// baselineRequest is a request to the baseline server (baseline.go). It
// is built from the same fixture as the server's, so a batch can carry the
// same records to both.
type baselineRequest struct {
	// Name labels it in the report.
	Name   string
	Method string
	Path   func(f *Fixture, n uint64) string
	Body   func(f *Fixture, n uint64) []byte
	// Check, when set, vets its answer to one request before measuring.
	Check func(f *Fixture, body []byte) error
}

var (
	basePing = baselineRequest{
		Name: "GET /ping", Method: http.MethodGet,
		Path: func(*Fixture, uint64) string { return "/ping" },
	}
	baseGet = baselineRequest{
		Name: "GET /items/:id", Method: http.MethodGet,
		Path: func(_ *Fixture, n uint64) string { return fmt.Sprintf("/items/%d", 1+n%baselineRows) },
	}
	// basePut cycles over as many rows as replaceQuota does objects, so
	// both see the same contention for row locks.
	basePut = baselineRequest{
		Name: "PUT /items/:id", Method: http.MethodPut,
		Path: func(_ *Fixture, n uint64) string { return fmt.Sprintf("/items/%d", 1+n%listObjects) },
		Body: func(_ *Fixture, n uint64) []byte {
			return fmt.Appendf(nil, `{"tenant":"00000000-0000-4000-8000-000000000001","name":"item-%d",`+
				`"payload":{"labels":{"team":"web","rev":"r%d"},"description":"Replaced by the benchmark.",`+
				`"spec":{"object_limits":{"origin_pool":{"maximum":%d},"http_loadbalancer":{"maximum":50}},`+
				`"resource_limits":{"storage_gib":{"maximum":500}}}}}`, 1+n%listObjects, n, 100+n%100)
		},
	}
	// baseCopy posts ingestUsage's very body, so both sides decode and
	// store the same records.
	baseCopy = baselineRequest{
		Name: "POST /usage_records (COPY)", Method: http.MethodPost,
		Path:  func(*Fixture, uint64) string { return "/usage_records" },
		Body:  func(f *Fixture, n uint64) []byte { return f.ingestBody(n) },
		Check: checkIngested,
	}
)
