package tenancy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/server/cache"
	"billing-api/server/clock"
	"billing-api/server/fault"
)

// TokenPrefix starts every API token secret, so a leaked one is easy to spot.
const TokenPrefix = "bapi_"

// tokenBytes is the secret's randomness: 256 bits.
const tokenBytes = 32

// maxTokenNamespaces bounds a token's namespace list.
const maxTokenNamespaces = 64

// Service applies the tenancy rules.
type Service struct {
	store Store
	now   clock.Clock
	// tokens (by secret hash) and namespaces that exist are cached for the
	// request path; see package cache for how long and why that is exact
	// enough.
	tokens     *cache.Cache[string, tokenEntry]
	namespaces *cache.Cache[namespaceKey, bool]
	// OnTenantCreated runs inside the tenant's creation transaction, so other
	// domains can give a new tenant its initial state atomically.
	onTenantCreated []func(ctx context.Context, t Tenant) error
}

// tokenEntry is a token found by its hash, with its tenant's name.
type tokenEntry struct {
	token      Token
	tenantName string
}

type namespaceKey struct {
	tenant uuid.UUID
	name   string
}

// NewService returns a Service over store; now is the clock (nil: the
// system clock) and cacheTTL how long the request path may use a cached
// token or namespace.
func NewService(store Store, now clock.Clock, cacheTTL time.Duration) *Service {
	return &Service{
		store: store, now: clock.Normalized(now),
		tokens: cache.New[string, tokenEntry](cacheTTL, now, func(h string) string { return h }),
		namespaces: cache.New[namespaceKey, bool](cacheTTL, now, func(k namespaceKey) string {
			return k.tenant.String() + "/" + k.name
		}),
	}
}

// OnTenantCreated registers fn to run in the transaction that creates a tenant.
func (s *Service) OnTenantCreated(fn func(ctx context.Context, t Tenant) error) {
	s.onTenantCreated = append(s.onTenantCreated, fn)
}

// CreateTenantInput describes a new tenant.
type CreateTenantInput struct {
	Name        string
	DisplayName string
}

// CreateTenant creates a tenant and its system namespace in one transaction.
func (s *Service) CreateTenant(ctx context.Context, in CreateTenantInput) (Tenant, error) {
	var v fault.Violations
	CheckLabel(&v, "name", in.Name)
	if len(in.DisplayName) > 256 {
		v.Add("display_name", "maxLength", "must be at most 256 bytes")
	}
	if err := v.Err(); err != nil {
		return Tenant{}, err
	}
	t := Tenant{ID: uuid.New(), Name: in.Name, DisplayName: in.DisplayName, CreatedAt: s.now()}
	if t.DisplayName == "" {
		t.DisplayName = t.Name
	}
	err := s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.CreateTenant(ctx, t); err != nil {
			if errors.Is(err, fault.ErrConflict) {
				return fault.Conflictf("tenant %q already exists", t.Name)
			}
			return err
		}
		if err := s.store.CreateNamespace(ctx, Namespace{TenantID: t.ID, Name: SystemNamespace, CreatedAt: t.CreatedAt}); err != nil {
			return err
		}
		for _, fn := range s.onTenantCreated {
			if err := fn(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
	return t, err
}

// Tenant returns the tenant with this name.
func (s *Service) Tenant(ctx context.Context, name string) (Tenant, error) {
	t, err := s.store.TenantByName(ctx, name)
	if errors.Is(err, fault.ErrNotFound) {
		return Tenant{}, fault.NotFoundf("tenant %q not found", name)
	}
	return t, err
}

// ListTenants returns every tenant, by name.
func (s *Service) ListTenants(ctx context.Context) ([]Tenant, error) {
	return s.store.ListTenants(ctx)
}

// CreateNamespace adds a namespace to a tenant.
func (s *Service) CreateNamespace(ctx context.Context, tenantName, name string) (Namespace, error) {
	var v fault.Violations
	CheckLabel(&v, "name", name)
	if err := v.Err(); err != nil {
		return Namespace{}, err
	}
	t, err := s.Tenant(ctx, tenantName)
	if err != nil {
		return Namespace{}, err
	}
	ns := Namespace{TenantID: t.ID, Name: name, CreatedAt: s.now()}
	if err := s.store.CreateNamespace(ctx, ns); err != nil {
		if errors.Is(err, fault.ErrConflict) {
			return Namespace{}, fault.Conflictf("namespace %q already exists in tenant %q", name, tenantName)
		}
		return Namespace{}, err
	}
	return ns, nil
}

// ListNamespaces returns a tenant's namespaces, by name.
func (s *Service) ListNamespaces(ctx context.Context, tenantName string) ([]Namespace, error) {
	t, err := s.Tenant(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	return s.store.ListNamespaces(ctx, t.ID)
}

// RequireNamespace answers not-found unless the tenant has namespace ns.
// Only namespaces that exist are cached, so one just created is seen at
// once everywhere.
func (s *Service) RequireNamespace(ctx context.Context, tenantID uuid.UUID, ns string) error {
	_, err := s.namespaces.Get(ctx, namespaceKey{tenantID, ns}, func(ctx context.Context) (bool, error) {
		ok, err := s.store.NamespaceExists(ctx, tenantID, ns)
		if err == nil && !ok {
			err = fault.NotFoundf("namespace %q not found", ns)
		}
		return ok, err
	})
	return err
}

// IssueTokenInput describes a new API token.
type IssueTokenInput struct {
	TenantName string
	Name       string
	Role       Role
	Namespaces []string
}

// IssueToken creates a token and returns it with its secret. The secret is
// shown this once; only its hash is stored.
func (s *Service) IssueToken(ctx context.Context, in IssueTokenInput) (Token, string, error) {
	var v fault.Violations
	if in.Name == "" || len(in.Name) > 128 {
		v.Add("name", "length", "must be 1-128 characters")
	}
	if !in.Role.Valid() {
		v.Add("role", "enum", `must be "admin" or "viewer"`)
	}
	if len(in.Namespaces) > maxTokenNamespaces {
		v.Add("namespaces", "maxItems", fmt.Sprintf("at most %d namespaces", maxTokenNamespaces))
	}
	for i, ns := range in.Namespaces {
		CheckLabel(&v, fmt.Sprintf("namespaces[%d]", i), ns)
	}
	if err := v.Err(); err != nil {
		return Token{}, "", err
	}
	t, err := s.Tenant(ctx, in.TenantName)
	if err != nil {
		return Token{}, "", err
	}
	namespaces := slices.Clone(in.Namespaces)
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)
	for _, ns := range namespaces {
		if err := s.RequireNamespace(ctx, t.ID, ns); err != nil {
			return Token{}, "", err
		}
	}
	secret, err := newSecret()
	if err != nil {
		return Token{}, "", fault.Internal(err)
	}
	tok := Token{
		ID: uuid.New(), TenantID: t.ID, Name: in.Name, Role: in.Role, Namespaces: namespaces,
		Prefix: secret[:len(TokenPrefix)+6], CreatedAt: s.now(),
	}
	if err := s.store.CreateToken(ctx, tok, HashSecret(secret)); err != nil {
		return Token{}, "", err
	}
	return tok, secret, nil
}

// ListTokens returns a tenant's tokens (never their secrets), newest first.
func (s *Service) ListTokens(ctx context.Context, tenantName string) ([]Token, error) {
	t, err := s.Tenant(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, t.ID)
}

// RevokeToken stops a token from authenticating; revoking twice is harmless.
func (s *Service) RevokeToken(ctx context.Context, tenantName string, id uuid.UUID) (Token, error) {
	t, err := s.Tenant(ctx, tenantName)
	if err != nil {
		return Token{}, err
	}
	tok, err := s.store.RevokeToken(ctx, t.ID, id, s.now())
	if errors.Is(err, fault.ErrNotFound) {
		return Token{}, fault.NotFoundf("token %s not found in tenant %q", id, tenantName)
	}
	// Stops working on this replica at once (others: within the cache TTL).
	s.tokens.InvalidateWhere(func(_ string, e tokenEntry) bool { return e.token.ID == id })
	return tok, err
}

// ErrBadToken is the one answer for every missing or unusable token, so a
// caller cannot tell an unknown token from a revoked one.
var ErrBadToken = fault.Unauthenticatedf(`missing or invalid API token: send "Authorization: APIToken <token>"`)

// Authenticate resolves the secret of an Authorization header to a principal.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 256 {
		return Principal{}, ErrBadToken
	}
	hash := HashSecret(secret)
	e, err := s.tokens.Get(ctx, hash, func(ctx context.Context) (tokenEntry, error) {
		tok, tenantName, err := s.store.TokenByHash(ctx, hash)
		return tokenEntry{tok, tenantName}, err
	})
	if errors.Is(err, fault.ErrNotFound) {
		return Principal{}, ErrBadToken
	}
	if err != nil {
		return Principal{}, err
	}
	tok := e.token
	if tok.Revoked() {
		return Principal{}, ErrBadToken
	}
	return Principal{
		TenantID: tok.TenantID, TenantName: e.tenantName, TokenID: tok.ID, TokenName: tok.Name,
		Role: tok.Role, Namespaces: tok.Namespaces,
	}, nil
}

// HashSecret is how token secrets are stored. The secrets carry 256 random
// bits, so a plain SHA-256 cannot be brute-forced and needs no salt.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func newSecret() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// Resolver turns the tenant and namespace names an operator writes into the
// tenant's id, checking each pair once; one Resolver serves one request.
type Resolver struct {
	svc *Service
	ids map[string]uuid.UUID
	ok  map[[2]string]bool
}

// NewResolver returns an empty Resolver.
func (s *Service) NewResolver() *Resolver {
	return &Resolver{svc: s, ids: map[string]uuid.UUID{}, ok: map[[2]string]bool{}}
}

// Tenant returns the id of the tenant named tenantName (not found if none).
func (r *Resolver) Tenant(ctx context.Context, tenantName string) (uuid.UUID, error) {
	if id, ok := r.ids[tenantName]; ok {
		return id, nil
	}
	t, err := r.svc.Tenant(ctx, tenantName)
	if err != nil {
		return uuid.Nil, err
	}
	r.ids[tenantName] = t.ID
	return t.ID, nil
}

// Namespace returns the tenant's id after checking the tenant has the
// namespace (not found otherwise).
func (r *Resolver) Namespace(ctx context.Context, tenantName, namespace string) (uuid.UUID, error) {
	id, err := r.Tenant(ctx, tenantName)
	if err != nil {
		return uuid.Nil, err
	}
	key := [2]string{tenantName, namespace}
	if !r.ok[key] {
		if err := r.svc.RequireNamespace(ctx, id, namespace); err != nil {
			return uuid.Nil, err
		}
		r.ok[key] = true
	}
	return id, nil
}
