// Package tenancy holds the rules for tenants, namespaces and API tokens:
// who a request acts for and what it may touch. No HTTP and no SQL here; the
// store implements Store.
package tenancy

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// SystemNamespace always exists and holds tenant-wide objects.
const SystemNamespace = "system"

// Role is what a token may do.
type Role string

const (
	// RoleAdmin may call every operation.
	RoleAdmin Role = "admin"
	// RoleViewer may read, including the read-only POST queries.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleViewer }

// Tenant owns namespaces and everything in them.
type Tenant struct {
	ID          uuid.UUID
	Name        string
	DisplayName string
	CreatedAt   time.Time
}

// Namespace is a tenant's workspace.
type Namespace struct {
	TenantID  uuid.UUID
	Name      string
	CreatedAt time.Time
}

// Token is an API token as stored: the secret itself is never kept, only
// its hash.
type Token struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	Name     string
	Role     Role
	// Namespaces limits the token; empty means every namespace.
	Namespaces []string
	// Prefix is the start of the secret, enough to recognise it in a list.
	Prefix    string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Revoked reports whether the token no longer authenticates.
func (t Token) Revoked() bool { return t.RevokedAt != nil }

// Store is what tenancy needs from persistence. Not-found and duplicate
// errors come back as fault errors.
type Store interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error

	CreateTenant(ctx context.Context, t Tenant) error
	TenantByName(ctx context.Context, name string) (Tenant, error)
	ListTenants(ctx context.Context) ([]Tenant, error)

	CreateNamespace(ctx context.Context, ns Namespace) error
	NamespaceExists(ctx context.Context, tenantID uuid.UUID, name string) (bool, error)
	ListNamespaces(ctx context.Context, tenantID uuid.UUID) ([]Namespace, error)

	CreateToken(ctx context.Context, t Token, secretHash string) error
	// TokenByHash returns the token with this secret hash (revoked or not)
	// together with its tenant's name.
	TokenByHash(ctx context.Context, secretHash string) (Token, string, error)
	ListTokens(ctx context.Context, tenantID uuid.UUID) ([]Token, error)
	RevokeToken(ctx context.Context, tenantID, id uuid.UUID, at time.Time) (Token, error)
}
