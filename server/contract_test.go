package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"billing-api/gen/client"
	"billing-api/openapi"
	"billing-api/store/storetest"
)

// contractCheck is the contract suite's response-validation middleware: it
// validates every answer the server gives against the project's specs —
// status code, headers and body, error bodies included — and counts the
// (operation, status) pairs it saw. An answer that breaks the spec fails
// the test.
type contractCheck struct {
	sr       *specRouter
	mu       sync.Mutex
	seen     map[string]map[int]int
	failures []string
}

func newContractCheck(sr *specRouter) *contractCheck {
	return &contractCheck{sr: sr, seen: map[string]map[int]int{}}
}

// verify fails t for every answer that broke the spec.
func (c *contractCheck) verify(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.failures {
		t.Error(f)
	}
}

func (c *contractCheck) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		res := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		op, err := c.sr.check(r.Method, r.URL.RequestURI(), res)
		c.mu.Lock()
		if err != nil {
			c.failures = append(c.failures, fmt.Sprintf("%s %s answered %d %s, which breaks the spec: %v", r.Method, r.URL.RequestURI(), res.Status, res.Body, err))
		}
		if op != "" {
			if c.seen[op] == nil {
				c.seen[op] = map[int]int{}
			}
			c.seen[op][res.Status]++
		}
		c.mu.Unlock()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// tenantOperations are the operation ids of the tenant API.
func tenantOperations(t *testing.T) []string {
	t.Helper()
	spec, err := loadSpec(openapi.BillingYAML)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			ids = append(ids, op.OperationID)
		}
	}
	slices.Sort(ids)
	return ids
}

// The contract suite: the real server on a random port, driven only through
// the generated Go client, in the sequences a customer's integration runs —
// a quota's lifecycle; plans; a payment method, a plan transition and an
// add-on; usage ingested then queried; a month closed, its invoice listed
// and downloaded — with the refusals along the way. Every answer is
// validated against the spec by the middleware; every one of the tenant
// API's operations must be exercised.
func TestContractSuite(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	check := newContractCheck(v.sr)
	srv := httptest.NewServer(check.wrap(v.e))
	defer srv.Close()
	defer check.verify(t)
	tok := v.tenant("acme", "shop")
	other := v.tenant("globex")
	// Each request moves the hand-held clock a second on, as a client's
	// requests spread over time: rate limits see a realistic pace.
	as := func(token string) client.ClientOption {
		return client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			v.clock.Advance(time.Second)
			if token != "" {
				req.Header.Set("Authorization", "APIToken "+token)
			}
			return nil
		})
	}
	c, err := client.NewClientWithResponses(srv.URL, as(tok))
	if err != nil {
		t.Fatal(err)
	}
	anon, err := client.NewClientWithResponses(srv.URL, as(""))
	if err != nil {
		t.Fatal(err)
	}
	globex, err := client.NewClientWithResponses(srv.URL, as(other))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const js = "application/json"
	body := func(s string) io.Reader { return strings.NewReader(s) }
	must := func(what string, status int, want int, raw []byte, err error) {
		t.Helper()
		if err != nil || status != want {
			t.Fatalf("%s: %d (want %d) %s %v", what, status, want, raw, err)
		}
	}

	// ---- a quota's lifecycle
	created, err := c.CreateQuotaWithBodyWithResponse(ctx, "shop", js,
		body(`{"metadata":{"name":"web-limits","labels":{"team":"web"}},"spec":{"object_limits":{"origin_pool":{"maximum":4}}}}`))
	must("createQuota", created.StatusCode(), 200, created.Body, err)
	dup, err := c.CreateQuotaWithBodyWithResponse(ctx, "shop", js, body(`{"metadata":{"name":"web-limits"},"spec":{}}`))
	must("createQuota again", dup.StatusCode(), 409, dup.Body, err)
	bad, err := c.CreateQuotaWithBodyWithResponse(ctx, "shop", js, body(`{"metadata":{"name":"Bad Name"},"spec":{}}`))
	must("createQuota bad name", bad.StatusCode(), 400, bad.Body, err)
	got, err := c.GetQuotaWithResponse(ctx, "shop", "web-limits", nil)
	must("getQuota", got.StatusCode(), 200, got.Body, err)
	if got.JSON200.Spec == nil || (*got.JSON200.Spec.ObjectLimits)["origin_pool"].Maximum != 4 {
		t.Fatalf("getQuota: %s", got.Body)
	}
	filter := "team=web"
	list, err := c.ListQuotasWithResponse(ctx, "shop", &client.ListQuotasParams{LabelFilter: &filter})
	must("listQuotas", list.StatusCode(), 200, list.Body, err)
	if len(*list.JSON200.Items) != 1 {
		t.Fatalf("listQuotas: %s", list.Body)
	}
	replaced, err := c.ReplaceQuotaWithBodyWithResponse(ctx, "shop", "web-limits", js,
		body(`{"metadata":{"name":"web-limits"},"spec":{"object_limits":{"origin_pool":{"maximum":6}}}}`))
	must("replaceQuota", replaced.StatusCode(), 200, replaced.Body, err)
	limits, err := c.GetQuotaLimitsWithResponse(ctx, "shop")
	must("getQuotaLimits", limits.StatusCode(), 200, limits.Body, err)
	if m := (*limits.JSON200.Objects)["origin_pool"].Maximum; m != 6 {
		t.Fatalf("getQuotaLimits: %s", limits.Body)
	}
	qusage, err := c.GetQuotaUsageWithResponse(ctx, "shop")
	must("getQuotaUsage", qusage.StatusCode(), 200, qusage.Body, err)
	foreign, err := globex.GetQuotaWithResponse(ctx, "system", "web-limits", nil)
	must("getQuota of another tenant's name", foreign.StatusCode(), 404, foreign.Body, err)
	deleted, err := c.DeleteQuotaWithBodyWithResponse(ctx, "shop", "web-limits", js, nil)
	must("deleteQuota", deleted.StatusCode(), 200, deleted.Body, err)
	gone, err := c.GetQuotaWithResponse(ctx, "shop", "web-limits", nil)
	must("getQuota after delete", gone.StatusCode(), 404, gone.Body, err)
	unauth, err := anon.GetQuotaLimitsWithResponse(ctx, "shop")
	must("getQuotaLimits without a token", unauth.StatusCode(), 401, unauth.Body, err)

	// ---- plans
	plans, err := c.ListUsagePlansWithResponse(ctx)
	must("listUsagePlans", plans.StatusCode(), 200, plans.Body, err)
	current, err := c.GetCurrentPlanWithResponse(ctx, nil)
	must("getCurrentPlan", current.StatusCode(), 200, current.Body, err)
	if name := *(*current.JSON200.Plans)[0].Name; name != "FREE" {
		t.Fatalf("a new tenant is on %s", name)
	}

	// ---- a payment method, a plan transition, an add-on
	pmBody := func(token, role string) io.Reader {
		r := ""
		if role != "" {
			r = `,"role":"PAYMENT_METHOD_ROLE_` + role + `"`
		}
		return body(`{"token":"` + token + `"` + r + `,"contact":{"contact_type":"BILLING","address1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}}`)
	}
	pm1, err := c.CreatePaymentMethodWithBodyWithResponse(ctx, "system", js, pmBody("tok_visa_4242", "PRIMARY"))
	must("createPaymentMethod", pm1.StatusCode(), 200, pm1.Body, err)
	pm2, err := c.CreatePaymentMethodWithBodyWithResponse(ctx, "system", js, pmBody("tok_mastercard_5555", "SECONDARY"))
	must("createPaymentMethod secondary", pm2.StatusCode(), 200, pm2.Body, err)
	refused, err := c.CreatePaymentMethodWithBodyWithResponse(ctx, "system", js, pmBody("card_1234", ""))
	must("createPaymentMethod with a foreign token", refused.StatusCode(), 400, refused.Body, err)
	primary, secondary := *pm1.JSON200.Name, *pm2.JSON200.Name
	swapped, err := c.SwapPaymentMethodRoleWithBodyWithResponse(ctx, "system", primary, js, body(`{}`))
	must("swapPaymentMethodRole", swapped.StatusCode(), 200, swapped.Body, err)
	back, err := c.MakePaymentMethodPrimaryWithBodyWithResponse(ctx, "system", primary, js, body(`{}`))
	must("makePaymentMethodPrimary", back.StatusCode(), 200, back.Body, err)
	sec, err := c.MakePaymentMethodSecondaryWithBodyWithResponse(ctx, "system", secondary, js, body(`{}`))
	must("makePaymentMethodSecondary", sec.StatusCode(), 200, sec.Body, err)
	noPrimaryDelete, err := c.DeletePaymentMethodWithResponse(ctx, "system", primary)
	must("deletePaymentMethod of the PRIMARY", noPrimaryDelete.StatusCode(), 409, noPrimaryDelete.Body, err)
	missingPM, err := c.DeletePaymentMethodWithResponse(ctx, "system", "pm-000000000000")
	must("deletePaymentMethod unknown", missingPM.StatusCode(), 404, missingPM.Body, err)

	started, err := c.InitiatePlanTransitionWithBodyWithResponse(ctx, "system", js, body(`{"new_plan":"INDIVIDUAL"}`))
	must("initiatePlanTransition", started.StatusCode(), 200, started.Body, err)
	same, err := c.InitiatePlanTransitionWithBodyWithResponse(ctx, "system", js, body(`{"new_plan":"INDIVIDUAL"}`))
	must("initiatePlanTransition to the current plan", same.StatusCode(), 409, same.Body, err)
	id, err := uuid.Parse(started.JSON200.Id)
	if err != nil {
		t.Fatal(err)
	}
	state, err := anon.GetPlanTransitionWithResponse(ctx, &client.GetPlanTransitionParams{Id: openapi_types.UUID(id)})
	must("getPlanTransition (no token)", state.StatusCode(), 200, state.Body, err)
	if s := string(state.JSON200.State); s != "STATE_FINISHED" {
		t.Fatalf("transition state %s", s)
	}
	subscribed, err := c.SubscribeAddonWithBodyWithResponse(ctx, js, body(`{"f5xc_waap_standard":{}}`))
	must("subscribeAddon", subscribed.StatusCode(), 200, subscribed.Body, err)
	notAllowed, err := c.SubscribeAddonWithBodyWithResponse(ctx, js, body(`{"f5xc_securemesh_advanced":{}}`))
	must("subscribeAddon not allowed", notAllowed.StatusCode(), 403, notAllowed.Body, err)
	subs, err := c.ListSubscriptionsWithResponse(ctx, "system", nil)
	must("listSubscriptions", subs.StatusCode(), 200, subs.Body, err)
	if len(*subs.JSON200.Subscriptions) != 1 {
		t.Fatalf("listSubscriptions: %s", subs.Body)
	}
	pm3, err := c.CreatePaymentMethodWithBodyWithResponse(ctx, "system", js, pmBody("tok_amex_0005", ""))
	must("createPaymentMethod normal", pm3.StatusCode(), 200, pm3.Body, err)
	removed, err := c.DeletePaymentMethodWithResponse(ctx, "system", *pm3.JSON200.Name)
	must("deletePaymentMethod", removed.StatusCode(), 200, removed.Body, err)

	// ---- usage ingested (operator API), then queried
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	v.ingestOK([]rec{
		usageRec("acme", "lb_http_requests", "requests", at, 12_000_000),
		usageRec("acme", "lb_data_transfer", "GB", at.Add(time.Hour), 120),
	})
	details, err := c.ListUsageDetailsWithBodyWithResponse(ctx, "system", js, body(`{}`))
	must("listUsageDetails", details.StatusCode(), 200, details.Body, err)
	items := *details.JSON200.UsageItems
	if len(items) != 2 {
		t.Fatalf("listUsageDetails: %s", details.Body)
	}
	q, _ := json.Marshal(map[string]string{"query": items[0].HourlyBreakdownQuery})
	hourly, err := c.ListHourlyUsageDetailsWithBodyWithResponse(ctx, "system", js, bytes.NewReader(q))
	must("listHourlyUsageDetails", hourly.StatusCode(), 200, hourly.Body, err)
	forged, err := c.ListHourlyUsageDetailsWithBodyWithResponse(ctx, "system", js, body(`{"query":"bm90LXNpZ25lZA"}`))
	must("listHourlyUsageDetails forged", forged.StatusCode(), 400, forged.Body, err)
	costs, err := c.ListCurrentUsageWithBodyWithResponse(ctx, "system", js, body(`{}`))
	must("listCurrentUsage", costs.StatusCode(), 200, costs.Body, err)
	monthly, err := c.ListMonthlyUsageWithBodyWithResponse(ctx, "system", js, body(`{}`))
	must("listMonthlyUsage", monthly.StatusCode(), 200, monthly.Body, err)
	summary, err := c.GetUsageSummaryWithBodyWithResponse(ctx, js, body(`{"start_time":"2026-11-01T00:00:00Z","end_time":"2026-11-25T00:00:00Z"}`))
	must("getUsageSummary", summary.StatusCode(), 200, summary.Body, err)
	if len(*summary.JSON200.UsageSummaryItems) != 2 {
		t.Fatalf("getUsageSummary: %s", summary.Body)
	}

	// ---- the month closed (operator), its invoice listed and downloaded
	v.at(december.Add(time.Hour))
	if res := v.admin(http.MethodPost, "/admin/v1/invoices/close", `{"period":"2026-11"}`); res.Status != http.StatusOK {
		t.Fatalf("close: %d %s", res.Status, res.Body)
	}
	invoices, err := c.ListInvoicesWithResponse(ctx, "system", nil)
	must("listInvoices", invoices.StatusCode(), 200, invoices.Body, err)
	listed := *invoices.JSON200.Invoices
	if len(listed) != 2 || *listed[1].Status != client.InvoiceInvoiceStatusSTATUSPAID {
		t.Fatalf("listInvoices: %s", invoices.Body)
	}
	doc, err := c.DownloadInvoicePdfWithResponse(ctx, "system", &client.DownloadInvoicePdfParams{Name: *listed[1].Name})
	must("downloadInvoicePdf", doc.StatusCode(), 200, doc.Body, err)
	if !bytes.HasPrefix(*doc.JSON200.Pdf, []byte("%PDF-")) {
		t.Fatal("downloadInvoicePdf: not a PDF")
	}
	// Every item the list offers downloads: the running month as a draft.
	pending, err := c.DownloadInvoicePdfWithResponse(ctx, "system", &client.DownloadInvoicePdfParams{Name: *listed[0].Name})
	must("downloadInvoicePdf of the running month", pending.StatusCode(), 200, pending.Body, err)
	if text := pdfText(t, *pending.JSON200.Pdf); !strings.Contains(text, "DRAFT") {
		t.Fatalf("downloadInvoicePdf of the running month is not marked as a draft:\n%s", text)
	}
	unknown, err := c.DownloadInvoicePdfWithResponse(ctx, "system", &client.DownloadInvoicePdfParams{Name: "pending-2026-10"})
	must("downloadInvoicePdf of a month the list does not offer", unknown.StatusCode(), 404, unknown.Body, err)
	stolen, err := globex.DownloadInvoicePdfWithResponse(ctx, "system", &client.DownloadInvoicePdfParams{Name: *listed[1].Name})
	must("downloadInvoicePdf of another tenant's invoice", stolen.StatusCode(), 404, stolen.Body, err)

	// ---- the add-on cancelled
	cancelled, err := c.UnsubscribeAddonWithBodyWithResponse(ctx, js, body(`{"f5xc_waap_standard":{}}`))
	must("unsubscribeAddon", cancelled.StatusCode(), 200, cancelled.Body, err)
	again, err := c.UnsubscribeAddonWithBodyWithResponse(ctx, js, body(`{"f5xc_waap_standard":{}}`))
	must("unsubscribeAddon again", again.StatusCode(), 404, again.Body, err)

	// What was exercised: every operation, and which statuses.
	check.mu.Lock()
	defer check.mu.Unlock()
	var pairs []string
	for op, statuses := range check.seen {
		for st := range statuses {
			pairs = append(pairs, fmt.Sprintf("%s %d", op, st))
		}
	}
	slices.Sort(pairs)
	ops := tenantOperations(t)
	var missing []string
	for _, op := range ops {
		if check.seen[op] == nil {
			missing = append(missing, op)
		}
	}
	where := string(v.db.Dialect())
	if storetest.PgBouncerURL() != "" {
		where += " through PgBouncer"
	}
	report := fmt.Sprintf("contract suite (%s): %d of %d operations, %d (operation, status) pairs: %s",
		where, len(ops)-len(missing), len(ops), len(pairs), strings.Join(pairs, ", "))
	t.Log(report)
	// make test prints the report after the run (go test shows a passing
	// test's log only with -v).
	if path := os.Getenv("BILLING_CONTRACT_REPORT"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := fmt.Fprintln(f, report); err != nil {
			t.Fatal(err)
		}
	}
	if len(missing) > 0 {
		t.Errorf("operations never exercised: %v", missing)
	}
}

// The middleware catches what breaks the spec: a body of the wrong shape,
// an undeclared status, an error body that is not a schemaErrorType.
func TestContractCheckCatchesAnswersThatBreakTheSpec(t *testing.T) {
	t.Parallel()
	check := newContractCheck(newSpecRouter(t))
	answers := map[string]struct {
		status int
		body   string
	}{
		"/api/web/namespaces/system/quota/limits":                 {200, `{"objects":{"pool":{"maximum":"four"}}}`},
		"/api/web/namespaces/system/usage/invoices/custom_list":   {418, `{}`},
		"/api/web/namespaces/system/usage/invoice_pdf?name=INV-1": {404, `{"error":"gone"}`},
		"/api/web/namespaces/system/subscriptions/custom_list":    {200, `{"subscriptions":[]}`},
	}
	h := check.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.RequestURI()]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	for path := range answers {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if len(check.failures) != 3 {
		t.Fatalf("%d failures, want 3 (all but the valid list): %q", len(check.failures), check.failures)
	}
	for _, f := range check.failures {
		if strings.Contains(f, "subscriptions/custom_list") {
			t.Errorf("a valid answer was refused: %s", f)
		}
	}
	if got := check.seen["listSubscriptions"][200]; got != 1 {
		t.Errorf("listSubscriptions 200 counted %d times", got)
	}
}
