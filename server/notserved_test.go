package server

import (
	"net/http"
	"strings"
	"testing"

	"billing-api/gen/api"
)

// Operations whose domain has not landed answer a proper 501
// schemaErrorType (validated against the spec like every response).
func TestUnservedOperationsAnswer501(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	for _, tc := range []struct{ op, method, path, body string }{
		{"listInvoices", http.MethodGet, "/api/web/namespaces/system/usage/invoices/custom_list?limit=5", ""},
		{"downloadInvoicePdf", http.MethodGet, "/api/web/namespaces/system/usage/invoice_pdf?name=INV-1", ""},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		res := v.call(tc.method, tc.path, tok, body)
		if res.Status != http.StatusNotImplemented {
			t.Errorf("%s: %d %s", tc.op, res.Status, res.Body)
			continue
		}
		if eb := res.errorBody(t); eb.Code != api.EUNKNOWN || !strings.Contains(eb.Message, tc.op) {
			t.Errorf("%s: body %+v", tc.op, eb)
		}
	}
}
