package tenancy

import (
	"context"
	"slices"

	"github.com/google/uuid"
)

// Principal is who a request acts for.
type Principal struct {
	TenantID   uuid.UUID
	TenantName string
	TokenID    uuid.UUID
	TokenName  string
	Role       Role
	// Namespaces limits the principal; empty means every namespace.
	Namespaces []string
	// Operator marks work done by the operator (CLI, seeding), not a token.
	Operator bool
}

// MayAccessNamespace reports whether the token's namespace list allows ns.
func (p Principal) MayAccessNamespace(ns string) bool {
	return len(p.Namespaces) == 0 || slices.Contains(p.Namespaces, ns)
}

// MayWrite reports whether the principal may change state.
func (p Principal) MayWrite() bool { return p.Role == RoleAdmin }

// CreatorClass and CreatorID describe the principal in object metadata.
func (p Principal) CreatorClass() string {
	if p.Operator {
		return "operator"
	}
	return "api-token"
}

// CreatorID names the token that acted.
func (p Principal) CreatorID() string { return p.TokenName }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx, if any.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
