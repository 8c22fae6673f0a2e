// The SDK against a running server with the demo tenant (`billing-api serve
// --demo`): BILLING_API_URL is the server's root, BILLING_API_TOKEN the demo
// token it printed. cmd/billing-api's TestTypeScriptSDK starts one and runs
// this file under `make test`.
//
// The tests run in order in one process and put back what they change, so
// they can run again on the same server.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { createBillingClient, type ApiError, type Schemas } from "@billing-api/sdk";

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this test through \`make test\`, or set BILLING_API_URL and BILLING_API_TOKEN to a demo server's`);
  }
  return value;
}

const baseUrl = required("BILLING_API_URL");
const client = createBillingClient({ baseUrl, token: required("BILLING_API_TOKEN") });

// ok returns the body of a successful answer and fails the test with the
// server's error otherwise.
function ok<T>(r: { data?: T; error?: unknown; response: Response }): T {
  assert.equal(r.error, undefined, `${r.response.url}: ${r.response.status} ${JSON.stringify(r.error)}`);
  assert.equal(r.response.status, 200);
  assert.ok(r.data !== undefined, `${r.response.url}: no body`);
  return r.data;
}

// failed returns the error body of an answer expected to fail with status.
function failed(r: { data?: unknown; error?: ApiError; response: Response }, status: number): ApiError {
  assert.equal(r.response.status, status, `${r.response.url}: ${JSON.stringify(r.data ?? r.error)}`);
  assert.ok(r.error !== undefined);
  assert.equal(typeof r.error.message, "string");
  return r.error;
}

const cents = /^(0|[1-9][0-9]*)$/;

test("plans: the current plan, in the language asked for", async () => {
  const plan = ok(await client.GET("/api/web/namespaces/system/usage_plans/current"));
  assert.equal(plan.locale, "en-US");
  assert.equal(plan.plans?.length, 1);
  const current = plan.plans[0]!;
  assert.equal(current.name, "INDIVIDUAL");
  assert.equal(current.current, true);
  assert.equal(current.flat_price, 1900);
  assert.equal(current.default_quota?.object_limits?.["payment_method"]?.maximum, 5);

  const fr = ok(await client.GET("/api/web/namespaces/system/usage_plans/current", { params: { query: { locale: "fr-FR" } } }));
  assert.equal(fr.locale, "fr-FR");
  assert.equal(fr.plans?.[0]?.title, "Individuel");
});

test("quotas: an object tightens the namespace's effective limit until it is deleted", async () => {
  const namespace = "shop";
  const limits = async () =>
    ok(await client.GET("/api/web/namespaces/{namespace}/quota/limits", { params: { path: { namespace } } }));
  // The demo's object in system caps load balancers at 4 for every namespace.
  assert.equal((await limits()).objects?.["http_loadbalancer"]?.maximum, 4);

  const name = `sdk-${randomUUID().slice(0, 8)}`;
  const created = ok(
    await client.POST("/api/web/namespaces/{namespace}/quotas", {
      params: { path: { namespace } },
      body: {
        metadata: { name, namespace, labels: { origin: "sdk-test" } },
        spec: { object_limits: { http_loadbalancer: { maximum: 2 } } },
      },
    }),
  );
  assert.equal(created.metadata?.name, name);
  assert.equal(created.spec?.object_limits?.["http_loadbalancer"]?.maximum, 2);
  assert.match(created.system_metadata?.uid ?? "", /^[0-9a-f-]{36}$/);
  assert.equal((await limits()).objects?.["http_loadbalancer"]?.maximum, 2);

  const list = ok(
    await client.GET("/api/web/namespaces/{namespace}/quotas", {
      params: { path: { namespace }, query: { label_filter: "origin=sdk-test" } },
    }),
  );
  assert.deepEqual(list.items?.map((i) => i.name), [name]);

  ok(await client.DELETE("/api/web/namespaces/{namespace}/quotas/{name}", { params: { path: { namespace, name } } }));
  const gone = failed(
    await client.GET("/api/web/namespaces/{namespace}/quotas/{name}", { params: { path: { namespace, name } } }),
    404,
  );
  assert.equal(gone.code, "ENOTFOUND");
  assert.equal((await limits()).objects?.["http_loadbalancer"]?.maximum, 4);
});

test("usage: metered lines and the month to date, priced", async () => {
  const from = new Date(Date.now() - 7 * 24 * 3600 * 1000).toISOString();
  const details = ok(
    await client.POST("/api/web/namespaces/{namespace}/usage_details", {
      params: { path: { namespace: "system" } },
      body: { namespace: "system", from },
    }),
  );
  const items = details.usage_items ?? [];
  assert.ok(items.length > 0, "no usage lines in the last week");
  for (const item of items) {
    assert.equal(typeof item.quantity, "number");
    assert.ok((item.quantity ?? 0) > 0, `${item.metric_label}: quantity ${item.quantity}`);
    assert.ok(item.hourly_breakdown_query.length > 0);
  }
  assert.ok(items.some((i) => i.namespace === "shop" && i.usage_type === "lb_http_requests"));

  const month = ok(
    await client.POST("/api/web/namespaces/{namespace}/current_usage", {
      params: { path: { namespace: "system" } },
      body: { namespace: "system" },
    }),
  );
  const lines = month.usage_items ?? [];
  const flat = lines.find((l) => l.fixed);
  assert.equal(flat?.usage_type, "plan_flat_price");
  for (const l of lines) {
    assert.match(l.amount ?? "", cents, `${l.usage_type}: amount ${l.amount}`);
  }
  assert.match(month.total_cost ?? "", cents);
  assert.match(month.discount ?? "", cents);
  // Amounts are decimal strings of cents; the total is exactly the lines minus the discount.
  const sum = lines.reduce((s, l) => s + BigInt(l.amount ?? "0"), 0n);
  assert.equal(BigInt(month.total_cost ?? "-1"), sum - BigInt(month.discount ?? "0"));
});

test("payment methods: add one, a refused token is a 400, remove it", async () => {
  const contact: Schemas["contactGlobalSpecType"] = {
    contact_type: "PAYMENT",
    address1: "1 Test Street",
    city: "Springfield",
    zip_code: "12345",
    country: "US",
  };
  const path = { namespace: "system" as const };
  const created = ok(
    await client.POST("/api/web/namespaces/{namespace}/billing/payment_methods", {
      params: { path },
      body: { namespace: "system", token: "tok_visa_4242", role: "PAYMENT_METHOD_ROLE_NORMAL", contact },
    }),
  );
  assert.match(created.name ?? "", /^pm-[0-9a-f]+$/);

  const refused = failed(
    await client.POST("/api/web/namespaces/{namespace}/billing/payment_methods", {
      params: { path },
      body: { namespace: "system", token: "not-a-provider-token", contact },
    }),
    400,
  );
  assert.ok(refused.code.length > 0);

  const removed = ok(
    await client.DELETE("/api/web/namespaces/{namespace}/billing/payment_methods/{name}", {
      params: { path: { ...path, name: created.name! } },
    }),
  );
  assert.deepEqual(removed, {});
});

test("subscriptions: the active add-on with its billed periods", async () => {
  const list = ok(
    await client.GET("/api/web/namespaces/{namespace}/subscriptions/custom_list", {
      params: { path: { namespace: "system" }, query: { current: true } },
    }),
  );
  const subs = list.subscriptions ?? [];
  assert.ok(subs.every((s) => s.current === true && s.cancelled !== true));
  const waap = subs.find((s) => s.name === "f5xc_waap_standard");
  assert.ok(waap, `no active f5xc_waap_standard in ${JSON.stringify(subs.map((s) => s.name))}`);
  assert.equal(waap.plan_name, "INDIVIDUAL");
  const billed = (waap.previous_billing_periods ?? []).flatMap((p) => p.invoices ?? []);
  assert.ok(billed.length > 0 && billed.every((n) => n.startsWith("INV-")), `billed in ${JSON.stringify(billed)}`);
});

test("invoices: the running month pending, three paid months, and a PDF", async () => {
  const path = { namespace: "system" as const };
  const list = ok(await client.GET("/api/web/namespaces/{namespace}/usage/invoices/custom_list", { params: { path } }));
  const invoices = list.invoices ?? [];
  assert.equal(invoices.length, 4);
  const [pending, ...issued] = invoices;
  assert.equal(pending?.active, true);
  assert.equal(pending?.status, "STATUS_PENDING");
  for (const inv of issued) {
    assert.equal(inv.active, false);
    assert.equal(inv.status, "STATUS_PAID");
    assert.match(inv.name ?? "", /^INV-\d{4}-\d{2}-\d{6}$/);
    assert.match(inv.amount ?? "", cents);
    assert.ok(BigInt(inv.amount ?? "0") > 0n);
    assert.equal(inv.currency, "USD");
  }
  // Newest period first.
  const starts = invoices.map((i) => Date.parse(i.period_start ?? ""));
  assert.deepEqual(starts, [...starts].sort((a, b) => b - a));

  const limited = ok(
    await client.GET("/api/web/namespaces/{namespace}/usage/invoices/custom_list", { params: { path, query: { limit: 2 } } }),
  );
  assert.equal(limited.invoices?.length, 2);

  const name = issued[0]!.name!;
  const pdf = ok(await client.GET("/api/web/namespaces/{namespace}/usage/invoice_pdf", { params: { path, query: { name } } }));
  const bytes = Buffer.from(pdf.pdf ?? "", "base64");
  assert.equal(bytes.subarray(0, 5).toString("latin1"), "%PDF-");
  assert.ok(bytes.length > 1000, `a PDF of ${bytes.length} bytes`);

  // The running month downloads too, as a draft.
  const draft = ok(
    await client.GET("/api/web/namespaces/{namespace}/usage/invoice_pdf", { params: { path, query: { name: pending!.name! } } }),
  );
  assert.equal(Buffer.from(draft.pdf ?? "", "base64").subarray(0, 5).toString("latin1"), "%PDF-");

  // Its amount is what current_usage totals for the month so far.
  const current = ok(await client.POST("/api/web/namespaces/{namespace}/current_usage", { params: { path }, body: {} }));
  assert.equal(current.total_cost, pending?.amount);

  const none = failed(
    await client.GET("/api/web/namespaces/{namespace}/usage/invoice_pdf", { params: { path, query: { name: "pending-2001-01" } } }),
    404,
  );
  assert.equal(none.code, "ENOTFOUND");
});

test("plan transitions: to TEAM and back, each state read without a token", async () => {
  const started = ok(
    await client.POST("/api/web/namespaces/{namespace}/billing/plan_transition", {
      params: { path: { namespace: "system" } },
      body: {
        namespace: "system",
        new_plan: "TEAM",
        // TEAM's flow needs a payment method (the demo's PRIMARY) and a contact.
        payload: {
          billing_address: {
            contact_type: "BILLING",
            address1: "1 Test Street",
            city: "Springfield",
            zip_code: "12345",
            country: "US",
          },
        },
      },
    }),
  );
  assert.match(started.id ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(started.requires_manual_approval, false);

  // The state needs nothing but the id.
  const anonymous = createBillingClient({ baseUrl });
  const state = ok(
    await anonymous.GET("/no_auth/namespaces/system/billing/plan_transition", { params: { query: { id: started.id! } } }),
  );
  assert.equal(state.state, "STATE_FINISHED");
  failed(
    await anonymous.GET("/no_auth/namespaces/system/billing/plan_transition", { params: { query: { id: randomUUID() } } }),
    404,
  );
  // ...and every other operation needs a token.
  failed(await anonymous.GET("/api/web/namespaces/system/usage_plans/current"), 401);

  const plan = ok(await client.GET("/api/web/namespaces/system/usage_plans/current"));
  assert.equal(plan.plans?.[0]?.name, "TEAM");

  // Back to INDIVIDUAL, so the tests can run again on the same server.
  const back = ok(
    await client.POST("/api/web/namespaces/{namespace}/billing/plan_transition", {
      params: { path: { namespace: "system" } },
      body: { namespace: "system", new_plan: "INDIVIDUAL" },
    }),
  );
  const backState = ok(
    await anonymous.GET("/no_auth/namespaces/system/billing/plan_transition", { params: { query: { id: back.id! } } }),
  );
  assert.equal(backState.state, "STATE_FINISHED");
  const again = ok(await client.GET("/api/web/namespaces/system/usage_plans/current"));
  assert.equal(again.plans?.[0]?.name, "INDIVIDUAL");
});
