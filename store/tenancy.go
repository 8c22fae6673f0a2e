package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/tenancy"
)

// Tenancy implements tenancy.Store.
type Tenancy struct{ db *DB }

// NewTenancy returns the tenancy repository.
func NewTenancy(db *DB) *Tenancy { return &Tenancy{db: db} }

var _ tenancy.Store = (*Tenancy)(nil)

func (r *Tenancy) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.db.WithTx(ctx, fn)
}

func (r *Tenancy) CreateTenant(ctx context.Context, t tenancy.Tenant) error {
	row := tenantRow{ID: t.ID, Name: t.Name, DisplayName: t.DisplayName, CreatedAt: t.CreatedAt.UTC()}
	return classify(r.db.conn(ctx).Create(&row).Error)
}

func tenantFromRow(row tenantRow) tenancy.Tenant {
	return tenancy.Tenant{ID: row.ID, Name: row.Name, DisplayName: row.DisplayName, CreatedAt: row.CreatedAt.UTC()}
}

func (r *Tenancy) TenantByName(ctx context.Context, name string) (tenancy.Tenant, error) {
	var row tenantRow
	if err := r.db.conn(ctx).Where("name = ?", name).Take(&row).Error; err != nil {
		return tenancy.Tenant{}, classify(err)
	}
	return tenantFromRow(row), nil
}

func (r *Tenancy) ListTenants(ctx context.Context) ([]tenancy.Tenant, error) {
	var rows []tenantRow
	if err := r.db.conn(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]tenancy.Tenant, len(rows))
	for i, row := range rows {
		out[i] = tenantFromRow(row)
	}
	return out, nil
}

func (r *Tenancy) CreateNamespace(ctx context.Context, ns tenancy.Namespace) error {
	row := namespaceRow{TenantID: ns.TenantID, Name: ns.Name, CreatedAt: ns.CreatedAt.UTC()}
	return classify(r.db.conn(ctx).Create(&row).Error)
}

func (r *Tenancy) NamespaceExists(ctx context.Context, tenantID uuid.UUID, name string) (bool, error) {
	var n int64
	err := r.db.conn(ctx).Model(&namespaceRow{}).Where("tenant_id = ? AND name = ?", tenantID, name).Limit(1).Count(&n).Error
	return n > 0, classify(err)
}

func (r *Tenancy) ListNamespaces(ctx context.Context, tenantID uuid.UUID) ([]tenancy.Namespace, error) {
	var rows []namespaceRow
	if err := r.db.conn(ctx).Where("tenant_id = ?", tenantID).Order("name").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]tenancy.Namespace, len(rows))
	for i, row := range rows {
		out[i] = tenancy.Namespace{TenantID: row.TenantID, Name: row.Name, CreatedAt: row.CreatedAt.UTC()}
	}
	return out, nil
}

func (r *Tenancy) CreateToken(ctx context.Context, t tenancy.Token, secretHash string) error {
	ns := t.Namespaces
	if ns == nil {
		ns = []string{}
	}
	row := apiTokenRow{
		ID: t.ID, TenantID: t.TenantID, Name: t.Name, Role: string(t.Role), Namespaces: ns,
		SecretHash: secretHash, Prefix: t.Prefix, CreatedAt: t.CreatedAt.UTC(),
	}
	return classify(r.db.conn(ctx).Create(&row).Error)
}

func tokenFromRow(row apiTokenRow) tenancy.Token {
	t := tenancy.Token{
		ID: row.ID, TenantID: row.TenantID, Name: row.Name, Role: tenancy.Role(row.Role),
		Namespaces: row.Namespaces, Prefix: row.Prefix, CreatedAt: row.CreatedAt.UTC(),
	}
	if row.RevokedAt != nil {
		at := row.RevokedAt.UTC()
		t.RevokedAt = &at
	}
	return t
}

func (r *Tenancy) TokenByHash(ctx context.Context, secretHash string) (tenancy.Token, string, error) {
	var row apiTokenRow
	err := r.db.conn(ctx).Table("api_tokens").
		Select("api_tokens.*, tenants.name AS tenant_name").
		Joins("JOIN tenants ON tenants.id = api_tokens.tenant_id").
		Where("api_tokens.secret_hash = ?", secretHash).
		Take(&row).Error
	if err != nil {
		return tenancy.Token{}, "", classify(err)
	}
	return tokenFromRow(row), row.TenantName, nil
}

func (r *Tenancy) ListTokens(ctx context.Context, tenantID uuid.UUID) ([]tenancy.Token, error) {
	var rows []apiTokenRow
	if err := r.db.conn(ctx).Where("tenant_id = ?", tenantID).Order("created_at DESC, id").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]tenancy.Token, len(rows))
	for i, row := range rows {
		out[i] = tokenFromRow(row)
	}
	return out, nil
}

func (r *Tenancy) RevokeToken(ctx context.Context, tenantID, id uuid.UUID, at time.Time) (tenancy.Token, error) {
	var tok tenancy.Token
	err := r.db.WithTx(ctx, func(ctx context.Context) error {
		if err := r.db.conn(ctx).Model(&apiTokenRow{}).
			Where("id = ? AND tenant_id = ? AND revoked_at IS NULL", id, tenantID).
			Update("revoked_at", at.UTC()).Error; err != nil {
			return classify(err)
		}
		var row apiTokenRow
		if err := r.db.conn(ctx).Where("id = ? AND tenant_id = ?", id, tenantID).Take(&row).Error; err != nil {
			return classify(err)
		}
		tok = tokenFromRow(row)
		return nil
	})
	if errors.Is(err, fault.ErrNotFound) {
		return tenancy.Token{}, fault.NotFoundf("token %s not found", id)
	}
	return tok, err
}
