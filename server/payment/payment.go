// Package payment holds payment methods — provider tokens with a role per
// tenant (at most one PRIMARY and one SECONDARY, which the database
// enforces) — and the payment-provider interface. No HTTP and no SQL here.
package payment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/server/money"
)

// Role is a payment method's role.
type Role string

const (
	RolePrimary   Role = "PRIMARY"
	RoleSecondary Role = "SECONDARY"
	RoleNormal    Role = "NORMAL"
)

// KindPaymentMethod is the quota object kind payment methods count as.
const KindPaymentMethod = "payment_method"

// Contact is the billing address a method is registered with.
type Contact struct {
	Type, Address1, Address2, City, County, State, StateCode, ZipCode, Country, Phone string
}

// Method is a tenant's payment method. Token is the provider's token, kept
// for charging and never shown; Masked is what may be shown.
type Method struct {
	TenantID  uuid.UUID
	Name      string
	Role      Role
	Token     string
	Masked    string
	Contact   Contact
	CreatedAt time.Time
}

// Mask shows a token's kind and last four characters only.
func Mask(token string) string {
	kind, _, _ := strings.Cut(token, "_")
	last := token
	if len(last) > 4 {
		last = last[len(last)-4:]
	}
	return kind + "_…" + last
}

// ErrDeclined is a charge the provider refused.
var ErrDeclined = errors.New("payment: declined by the provider")

// Charge is a successful charge.
type Charge struct {
	Reference string
	Amount    money.Amount
}

// Provider is what a payment provider adapter implements. Every call that
// moves money takes an idempotency key: a retried call with the same key
// moves it once.
type Provider interface {
	// Check refuses a token the provider would never accept (the answer is a
	// 400 at creation), without charging it.
	Check(token string) error
	// Charge takes amount (minor units of currency) with the token; a
	// refusal is ErrDeclined.
	Charge(ctx context.Context, token string, amount money.Amount, currency, idempotencyKey string) (Charge, error)
	// Refund returns amount of an earlier charge.
	Refund(ctx context.Context, chargeReference string, amount money.Amount, idempotencyKey string) (string, error)
}

// TestProvider is the built-in provider: tokens must begin tok_; those
// beginning tok_decline are declined when charged. References derive from
// the idempotency key, so a retry yields the same charge.
type TestProvider struct{}

var _ Provider = TestProvider{}

// Check accepts tok_ tokens.
func (TestProvider) Check(token string) error {
	if !strings.HasPrefix(token, "tok_") || len(token) < 5 {
		return errors.New("the test payment provider accepts only tokens beginning tok_")
	}
	return nil
}

// Charge succeeds unless the token begins tok_decline.
func (TestProvider) Charge(_ context.Context, token string, amount money.Amount, _, key string) (Charge, error) {
	if strings.HasPrefix(token, "tok_decline") {
		return Charge{}, ErrDeclined
	}
	return Charge{Reference: "ch_" + digest(key), Amount: amount}, nil
}

// Refund always succeeds.
func (TestProvider) Refund(_ context.Context, ref string, _ money.Amount, key string) (string, error) {
	return "re_" + digest(ref+"/"+key), nil
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}
