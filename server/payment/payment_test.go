package payment

import (
	"context"
	"errors"
	"testing"
)

// The built-in provider: tok_ tokens only; tok_decline ones are declined
// when charged; a retried charge (same key) is the same charge.
func TestTestProvider(t *testing.T) {
	t.Parallel()
	var p Provider = TestProvider{}
	for token, ok := range map[string]bool{"tok_visa": true, "tok_decline_x": true, "4242424242424242": false, "tok_": false} {
		if err := p.Check(token); (err == nil) != ok {
			t.Errorf("Check(%q) = %v", token, err)
		}
	}
	ctx := context.Background()
	if _, err := p.Charge(ctx, "tok_decline_insufficient", 100, "USD", "k1"); !errors.Is(err, ErrDeclined) {
		t.Fatalf("a declining token charged: %v", err)
	}
	a, err := p.Charge(ctx, "tok_visa", 100, "USD", "k1")
	b, _ := p.Charge(ctx, "tok_visa", 100, "USD", "k1")
	c, _ := p.Charge(ctx, "tok_visa", 100, "USD", "k2")
	if err != nil || a != b || a.Reference == c.Reference || a.Amount != 100 {
		t.Fatalf("charges %+v %+v %+v (%v)", a, b, c, err)
	}
	if Mask("tok_visa_4242") != "tok_…4242" {
		t.Fatalf("mask %q", Mask("tok_visa_4242"))
	}
}

// The address on file is the PRIMARY's when it has one, else the first (by
// name) method's that has one.
func TestAddressOnFile(t *testing.T) {
	t.Parallel()
	a := Contact{Address1: "1 Main St", City: "Springfield", ZipCode: "12345", Country: "US"}
	b := Contact{Address1: "9 Elm Road", City: "Shelbyville", ZipCode: "54321", Country: "US"}
	for _, tc := range []struct {
		name    string
		methods []Method
		want    Contact
		ok      bool
	}{
		{"none", nil, Contact{}, false},
		{"no address anywhere", []Method{{Name: "pm-a", Role: RolePrimary}}, Contact{}, false},
		{"the primary's", []Method{{Name: "pm-a", Role: RoleNormal, Contact: a}, {Name: "pm-b", Role: RolePrimary, Contact: b}}, b, true},
		{"the primary has none", []Method{{Name: "pm-a", Role: RolePrimary}, {Name: "pm-b", Contact: a}, {Name: "pm-c", Contact: b}}, a, true},
	} {
		if got, ok := AddressOnFile(tc.methods); got != tc.want || ok != tc.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
