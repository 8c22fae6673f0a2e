// The billing-api tenant API for TypeScript: openapi-fetch over the types
// openapi-typescript generates from openapi/billing.yaml (src/schema.ts;
// `make sdk` regenerates it, never edit it by hand).
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };

/** The contract's named schemas, as in `Schemas["invoiceInvoiceType"]`. */
export type Schemas = components["schemas"];

/** Every error body the server sends (4xx and 5xx): `{code, message}`. */
export type ApiError = components["schemas"]["schemaErrorType"];

/** A client of the tenant API; its methods take the spec's paths, `GET("/api/web/...")`. */
export type BillingClient = Client<paths, "application/json">;

export interface BillingClientOptions extends Omit<ClientOptions, "baseUrl"> {
  /** The server's root, such as `http://localhost:8080`. */
  baseUrl: string;
  /**
   * A tenant API token (`billing-api token create`), sent as
   * `Authorization: APIToken <token>` on every request. Only the no-auth
   * getPlanTransition works without one.
   */
  token?: string;
}

/** createBillingClient returns a client of the server at baseUrl acting with token. */
export function createBillingClient({ token, ...options }: BillingClientOptions): BillingClient {
  const client = createClient<paths, "application/json">(options);
  if (token !== undefined) {
    // A middleware rather than `headers`, so that headers a caller passes
    // (in any of the forms fetch accepts) are kept alongside it.
    const authorization = `APIToken ${token}`;
    client.use({
      onRequest({ request }) {
        request.headers.set("Authorization", authorization);
        return request;
      },
    });
  }
  return client;
}
