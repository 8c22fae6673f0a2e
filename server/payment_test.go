package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"billing-api/gen/api"
	"billing-api/server/fault"
	"billing-api/server/payment"
	"billing-api/store"
)

const pmPath = "/api/web/namespaces/system/billing/payment_methods"

func pmBody(token, role string) string {
	r := ""
	if role != "" {
		r = fmt.Sprintf(`,"role":"PAYMENT_METHOD_ROLE_%s"`, role)
	}
	return fmt.Sprintf(`{"token":%q%s,"contact":{"contact_type":"BILLING","address1":"1 Main St","city":"Springfield","zip_code":"12345","country":"US"}}`, token, r)
}

func (v *env) addMethod(tok, token, role string) string {
	v.t.Helper()
	res := v.call(http.MethodPost, pmPath, tok, pmBody(token, role))
	if res.Status != http.StatusOK {
		v.t.Fatalf("create payment method: %d %s", res.Status, res.Body)
	}
	var out api.PaymentMethodCreatePaymentMethodResponse
	res.decode(v.t, &out)
	return *out.Name
}

// roles reads the tenant's methods' roles from the store.
func (v *env) roles(tenant string) map[string]payment.Role {
	v.t.Helper()
	t, err := v.tenancy.Tenant(context.Background(), tenant)
	if err != nil {
		v.t.Fatal(err)
	}
	ms, err := v.app.Payments.Methods(context.Background(), t.ID)
	if err != nil {
		v.t.Fatal(err)
	}
	out := map[string]payment.Role{}
	for _, m := range ms {
		out[m.Name] = m.Role
	}
	return out
}

func roleOp(name, op string) string {
	return "/api/web/namespaces/system/billing/payment_method/" + name + "/" + op
}

func TestPaymentMethodRoles(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.setPlan("acme", "TEAM")                               // room for several methods
	first := v.addMethod(tok, "tok_visa_4242", "SECONDARY") // the first is PRIMARY whatever is asked
	second := v.addMethod(tok, "tok_mc_5555", "SECONDARY")
	third := v.addMethod(tok, "tok_amex_0005", "")
	want := map[string]payment.Role{first: payment.RolePrimary, second: payment.RoleSecondary, third: payment.RoleNormal}
	check := func(step string) {
		t.Helper()
		if got := v.roles("acme"); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: roles %v, want %v", step, got, want)
		}
	}
	check("create")
	call := func(path, body string, status int) {
		t.Helper()
		res := v.call(http.MethodPost, path, tok, body)
		if res.Status != status {
			t.Fatalf("%s: %d %s, want %d", path, res.Status, res.Body, status)
		}
		if status == http.StatusOK && string(res.Body) != "{}\n" {
			t.Fatalf("%s answered %q, want {}", path, res.Body)
		}
	}
	call(roleOp(third, "primary"), `{"name":"`+third+`"}`, http.StatusOK)
	want[first], want[third] = payment.RoleNormal, payment.RolePrimary
	check("make-primary")
	call(roleOp(first, "secondary"), `{}`, http.StatusOK)
	want[first], want[second] = payment.RoleSecondary, payment.RoleNormal
	check("make-secondary")
	call(roleOp(third, "secondary"), `{}`, http.StatusConflict) // the PRIMARY: swap instead
	call(roleOp(first, "swap-primary"), `{}`, http.StatusOK)
	want[first], want[third] = payment.RolePrimary, payment.RoleSecondary
	check("swap")
	call(roleOp(second, "swap-primary"), `{}`, http.StatusConflict) // NORMAL
	call(roleOp(third, "primary"), `{}`, http.StatusOK)             // the SECONDARY becomes PRIMARY: no secondary left
	want[first], want[third] = payment.RoleNormal, payment.RolePrimary
	check("secondary to primary")
	if res := v.call(http.MethodPost, roleOp(third, "swap-primary"), tok, `{}`); res.Status != http.StatusConflict ||
		!strings.Contains(res.errorBody(t).Message, "SECONDARY") {
		t.Fatalf("swap without a secondary: %d %s", res.Status, res.Body)
	}
	call(roleOp(first, "primary"), `{"name":"someone-else"}`, http.StatusBadRequest)
	call(roleOp("pm-000000000000", "primary"), `{}`, http.StatusNotFound)
	check("refusals change nothing")

	// Delete: not the PRIMARY while others exist; the rest, then the last.
	del := func(name string, status int) {
		t.Helper()
		res := v.call(http.MethodDelete, pmPath+"/"+name, tok, nil)
		if res.Status != status {
			t.Fatalf("delete %s: %d %s, want %d", name, res.Status, res.Body, status)
		}
	}
	del(third, http.StatusConflict)
	del(first, http.StatusOK)
	del(second, http.StatusOK)
	del(third, http.StatusOK)
	del(third, http.StatusNotFound)
	want = map[string]payment.Role{}
	check("deleted")

	// Another tenant's method is not found, exactly like a missing one.
	other := v.tenant("other")
	mine := v.addMethod(tok, "tok_visa_1111", "")
	if res := v.call(http.MethodPost, roleOp(mine, "primary"), other, `{}`); res.Status != http.StatusNotFound {
		t.Fatalf("another tenant's method: %d", res.Status)
	}
	if res := v.call(http.MethodDelete, pmPath+"/"+mine, other, nil); res.Status != http.StatusNotFound {
		t.Fatalf("deleting another tenant's method: %d", res.Status)
	}
}

func TestPaymentMethodInputAndLimits(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	for body, field := range map[string]string{
		pmBody("4242424242424242", ""): "token",
		`{"token":"tok_visa","contact":{"address1":"1 Main St","city":"Springfield","country":"US"}}`: "contact.zip_code",
	} {
		res := v.call(http.MethodPost, pmPath, tok, body)
		if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, field) {
			t.Errorf("%s: %d %s", body, res.Status, res.Body)
		}
	}
	if got := v.roles("acme"); len(got) != 0 {
		t.Fatalf("refused creates stored %v", got)
	}
	// A declining token is a valid token: it is refused only when charged.
	v.addMethod(tok, "tok_decline_insufficient_funds", "")
	v.addMethod(tok, "tok_visa", "")
	// FREE allows two payment methods.
	if res := v.call(http.MethodPost, pmPath, tok, pmBody("tok_visa_3", "")); res.Status != http.StatusConflict {
		t.Fatalf("a third method on FREE: %d %s", res.Status, res.Body)
	}
	if got := (*v.usage(tok, "system").Objects)[payment.KindPaymentMethod]; got.Usage.Current != 2 || got.Limit.Maximum != 2 {
		t.Fatalf("quota usage of payment_method: %+v", got)
	}
	// The token is stored, only masked elsewhere.
	acme, _ := v.tenancy.Tenant(context.Background(), "acme")
	ms, _ := v.app.Payments.Methods(context.Background(), acme.ID)
	for _, m := range ms {
		if strings.Contains(m.Masked, m.Token[5:]) && len(m.Token) > 9 || !strings.HasPrefix(m.Masked, "tok_…") {
			t.Fatalf("masked %q of %q", m.Masked, m.Token)
		}
	}
	if strings.Contains(v.logs.String(), "tok_visa") {
		t.Fatal("a token reached the logs")
	}
}

// A method created without a contact (the vendor requires only the token)
// takes the tenant's billing address on file: the PRIMARY's, else that of
// any method that has one; with none on file it has none.
func TestPaymentMethodWithoutContactUsesTheAddressOnFile(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.setPlan("acme", "TEAM") // room for several methods
	create := func(body string) string {
		t.Helper()
		res := v.call(http.MethodPost, pmPath, tok, body)
		if res.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", body, res.Status, res.Body)
		}
		var out api.PaymentMethodCreatePaymentMethodResponse
		res.decode(t, &out)
		return *out.Name
	}
	contacts := func() map[string]payment.Contact {
		t.Helper()
		acme, _ := v.tenancy.Tenant(context.Background(), "acme")
		ms, err := v.app.Payments.Methods(context.Background(), acme.ID)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]payment.Contact{}
		for _, m := range ms {
			out[m.Name] = m.Contact
		}
		return out
	}
	// Nothing on file: the first method has no address, and is PRIMARY.
	bare := create(`{"token":"tok_visa_1111"}`)
	if c := contacts()[bare]; c != (payment.Contact{}) {
		t.Fatalf("a method without a contact and nothing on file got %+v", c)
	}
	if v.roles("acme")[bare] != payment.RolePrimary {
		t.Fatal("the first method is not PRIMARY")
	}
	// The PRIMARY has no address: another method's is on file.
	springfield := payment.Contact{Type: "BILLING", Address1: "1 Main St", City: "Springfield", ZipCode: "12345", Country: "US"}
	create(pmBody("tok_mc_5555", ""))
	second := create(`{"namespace":"system","token":"tok_visa_2222","role":"PAYMENT_METHOD_ROLE_UNKNOWN"}`)
	if c := contacts()[second]; c != springfield {
		t.Fatalf("took %+v, want the NORMAL method's address %+v", c, springfield)
	}
	// A PRIMARY with an address is what is on file (contact_type defaults to
	// MAILING, as the spec says).
	shelbyville := payment.Contact{Type: "MAILING", Address1: "9 Elm Road", City: "Shelbyville", ZipCode: "54321", Country: "US"}
	create(`{"token":"tok_amex_3782","role":"PAYMENT_METHOD_ROLE_PRIMARY","contact":{"address1":"9 Elm Road","city":"Shelbyville","zip_code":"54321","country":"US"}}`)
	third := create(`{"token":"tok_visa_3333"}`)
	if c := contacts()[third]; c != shelbyville {
		t.Fatalf("took %+v, want the PRIMARY's address %+v", c, shelbyville)
	}
	// A contact that is given is checked as before.
	res := v.call(http.MethodPost, pmPath, tok, `{"token":"tok_visa_4444","contact":{}}`)
	if res.Status != http.StatusBadRequest || !strings.Contains(res.errorBody(t).Message, "contact.address1") {
		t.Fatalf("an empty contact: %d %s", res.Status, res.Body)
	}
}

// Role changes from two replicas at once never leave two PRIMARY or two
// SECONDARY methods (the database refuses it), and every answer is 200 or
// 409, never a 500.
func TestConcurrentRoleChangesKeepOnePrimaryAndOneSecondary(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.setPlan("acme", "ORGANIZATION")
	var names []string
	for i := range 5 {
		names = append(names, v.addMethod(tok, fmt.Sprint("tok_card_", i), ""))
	}
	handlers := []*echo.Echo{v.e, v.replica()}
	var wg sync.WaitGroup
	errs := make(chan string, 200)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for range 15 {
				op := []string{"primary", "secondary", "swap-primary"}[r.IntN(3)]
				name := names[r.IntN(len(names))]
				res := v.sr.do(t, handlers[w%2], http.MethodPost, roleOp(name, op), `{}`, authHeader(tok))
				if res.Status != http.StatusOK && res.Status != http.StatusConflict {
					errs <- fmt.Sprintf("%s %s: %d %s", op, name, res.Status, res.Body)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	count := map[payment.Role]int{}
	for _, role := range v.roles("acme") {
		count[role]++
	}
	if count[payment.RolePrimary] != 1 || count[payment.RoleSecondary] > 1 {
		t.Fatalf("roles after the run: %v", count)
	}
}

func authHeader(tok string) http.Header {
	h := http.Header{}
	h.Set("Authorization", "APIToken "+tok)
	return h
}

// The invariant is the database's, not only the service's: a second
// PRIMARY or SECONDARY written past the service is refused.
func TestTheDatabaseRefusesASecondPrimaryOrSecondary(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.setPlan("acme", "TEAM")
	first := v.addMethod(tok, "tok_a", "")
	second := v.addMethod(tok, "tok_b", "SECONDARY")
	third := v.addMethod(tok, "tok_c", "")
	acme, _ := v.tenancy.Tenant(context.Background(), "acme")
	repo := store.NewPayments(v.db)
	for _, role := range []payment.Role{payment.RolePrimary, payment.RoleSecondary} {
		if err := repo.SetRole(context.Background(), acme.ID, third, role); fault.KindOf(err) != fault.KindConflict {
			t.Fatalf("a second %s: %v", role, err)
		}
	}
	if got := v.roles("acme"); got[first] != payment.RolePrimary || got[second] != payment.RoleSecondary || got[third] != payment.RoleNormal {
		t.Fatalf("roles %v", got)
	}
}

// Concurrent creates from two replicas stop at the plan's payment_method
// limit (FREE: 2), and exactly one of those created is PRIMARY.
func TestConcurrentPaymentMethodCreatesRespectTheLimit(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	count := v.acrossReplicas(8, http.MethodPost, pmPath, tok, func(w int) string { return pmBody(fmt.Sprint("tok_card_", w), "") })
	roles := map[payment.Role]int{}
	for _, r := range v.roles("acme") {
		roles[r]++
	}
	if count[http.StatusOK] != 2 || count[http.StatusConflict] != 6 || roles[payment.RolePrimary] != 1 || roles[payment.RoleNormal] != 1 {
		t.Fatalf("answers %v, roles %v", count, roles)
	}
}

// acrossReplicas sends n requests at once, alternately through this
// replica and a second one on the same database, and counts the answers by
// status; body(w) is the w-th request's body.
func (v *env) acrossReplicas(n int, method, path, tok string, body func(w int) string) map[int]int {
	v.t.Helper()
	handlers := []*echo.Echo{v.e, v.replica()}
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- v.sr.do(v.t, handlers[w%2], method, path, body(w), authHeader(tok)).Status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	return count
}
