package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"billing-api/server/fault"
	"billing-api/server/quota"
)

// Quotas implements quota.Store.
type Quotas struct{ db *DB }

// NewQuotas returns the quota repository.
func NewQuotas(db *DB) *Quotas { return &Quotas{db: db} }

var _ quota.Store = (*Quotas)(nil)

func (r *Quotas) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.db.WithTx(ctx, fn)
}

// LockTenant takes a row lock on the tenant (PostgreSQL). On SQLite every
// write transaction already holds the database's single writer lock.
func (r *Quotas) LockTenant(ctx context.Context, tenantID uuid.UUID) error {
	return r.db.LockTenant(ctx, tenantID)
}

// LockTenant serialises a tenant's writers until the transaction ends. FOR
// NO KEY UPDATE conflicts with itself but not with the key-share locks that
// foreign-key checks take, so inserts that merely reference the tenant are
// not held up.
func (db *DB) LockTenant(ctx context.Context, tenantID uuid.UUID) error {
	if db.dialect != Postgres {
		return nil
	}
	return classify(db.conn(ctx).Exec("SELECT id FROM tenants WHERE id = ? FOR NO KEY UPDATE", tenantID).Error)
}

func toRow(o quota.Object) quotaObjectRow {
	row := quotaObjectRow{
		UID: o.UID, TenantID: o.TenantID, Namespace: o.Namespace, Name: o.Name, Description: o.Description,
		Disabled: o.Disabled, Spec: specToJSON(o.Spec), CreatorID: o.CreatorID, CreatorClass: o.CreatorClass,
		CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(),
	}
	if o.Labels != nil {
		row.Labels = &o.Labels
	}
	if o.Annotations != nil {
		row.Annotations = &o.Annotations
	}
	return row
}

func fromRow(row quotaObjectRow) quota.Object {
	o := quota.Object{
		UID: row.UID, TenantID: row.TenantID, Namespace: row.Namespace, Name: row.Name, Description: row.Description,
		Disabled: row.Disabled, Spec: specFromJSON(row.Spec), CreatorID: row.CreatorID, CreatorClass: row.CreatorClass,
		CreatedAt: row.CreatedAt.UTC(), UpdatedAt: row.UpdatedAt.UTC(),
	}
	if row.Labels != nil {
		o.Labels = *row.Labels
	}
	if row.Annotations != nil {
		o.Annotations = *row.Annotations
	}
	return o
}

func specToJSON(l quota.Limits) specJSON {
	var s specJSON
	if l.Objects != nil {
		s.Objects = &l.Objects
	}
	if l.Resources != nil {
		s.Resources = &l.Resources
	}
	if l.APIs != nil {
		m := make(map[string]rateLimitJSON, len(l.APIs))
		for k, v := range l.APIs {
			m[k] = rateLimitJSON{Rate: v.Rate, Unit: string(v.Unit), Burst: v.Burst}
		}
		s.APIs = &m
	}
	return s
}

func specFromJSON(s specJSON) quota.Limits {
	var l quota.Limits
	if s.Objects != nil {
		l.Objects = *s.Objects
	}
	if s.Resources != nil {
		l.Resources = *s.Resources
	}
	if s.APIs != nil {
		l.APIs = make(map[string]quota.RateLimit, len(*s.APIs))
		for k, v := range *s.APIs {
			l.APIs[k] = quota.RateLimit{Rate: v.Rate, Unit: quota.Unit(v.Unit), Burst: v.Burst}
		}
	}
	return l
}

func (r *Quotas) CreateObject(ctx context.Context, o quota.Object) error {
	row := toRow(o)
	return classify(r.db.conn(ctx).Create(&row).Error)
}

func (r *Quotas) ReplaceObject(ctx context.Context, o quota.Object) error {
	row := toRow(o)
	res := r.db.conn(ctx).Model(&quotaObjectRow{}).
		Where("tenant_id = ? AND namespace = ? AND name = ?", o.TenantID, o.Namespace, o.Name).
		Select("labels", "annotations", "description", "disabled", "spec", "updated_at").
		Updates(&row)
	if res.Error != nil {
		return classify(res.Error)
	}
	if res.RowsAffected == 0 {
		return fault.ErrNotFound
	}
	return nil
}

func (r *Quotas) GetObject(ctx context.Context, tenantID uuid.UUID, namespace, name string) (quota.Object, error) {
	var row quotaObjectRow
	err := r.db.conn(ctx).Where("tenant_id = ? AND namespace = ? AND name = ?", tenantID, namespace, name).Take(&row).Error
	if err != nil {
		return quota.Object{}, classify(err)
	}
	return fromRow(row), nil
}

func (r *Quotas) ListObjects(ctx context.Context, tenantID uuid.UUID, namespace string) ([]quota.Object, error) {
	var rows []quotaObjectRow
	if err := r.db.conn(ctx).Where("tenant_id = ? AND namespace = ?", tenantID, namespace).Order("name").Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make([]quota.Object, len(rows))
	for i, row := range rows {
		out[i] = fromRow(row)
	}
	return out, nil
}

func (r *Quotas) EnabledSpecs(ctx context.Context, tenantID uuid.UUID, namespaces []string) ([]quota.NamespacedSpec, error) {
	var rows []struct {
		Namespace string
		Spec      specJSON `gorm:"serializer:json"`
	}
	err := r.db.conn(ctx).Model(&quotaObjectRow{}).Select("namespace", "spec").
		Where("tenant_id = ? AND namespace IN ? AND disabled = ?", tenantID, namespaces, false).
		Order("created_at, name").Find(&rows).Error
	if err != nil {
		return nil, classify(err)
	}
	out := make([]quota.NamespacedSpec, len(rows))
	for i, row := range rows {
		out[i] = quota.NamespacedSpec{Namespace: row.Namespace, Spec: specFromJSON(row.Spec)}
	}
	return out, nil
}

func (r *Quotas) DeleteObject(ctx context.Context, tenantID uuid.UUID, namespace, name string) error {
	res := r.db.conn(ctx).Where("tenant_id = ? AND namespace = ? AND name = ?", tenantID, namespace, name).Delete(&quotaObjectRow{})
	if res.Error != nil {
		return classify(res.Error)
	}
	if res.RowsAffected == 0 {
		return fault.ErrNotFound
	}
	return nil
}

func (r *Quotas) CountObjects(ctx context.Context, tenantID uuid.UUID, namespace string) (int64, error) {
	var n int64
	err := r.db.conn(ctx).Model(&quotaObjectRow{}).Where("tenant_id = ? AND namespace = ?", tenantID, namespace).Count(&n).Error
	return n, classify(err)
}

// RecordObjectCounts upserts gauges, keeping per key the newest observation.
func (r *Quotas) RecordObjectCounts(ctx context.Context, counts []quota.ObjectCount) (int, error) {
	applied := 0
	for _, c := range counts {
		row := objectCountRow{TenantID: c.TenantID, Namespace: c.Namespace, Kind: c.Kind, Count: c.Count, ObservedAt: c.ObservedAt.UTC()}
		res := r.db.conn(ctx).Clauses(newerWins("object_counts", []string{"tenant_id", "namespace", "kind"}, "count")).Create(&row)
		if err := res.Error; err != nil {
			return 0, gaugeError(err)
		}
		applied += int(res.RowsAffected)
	}
	return applied, nil
}

// RecordResourceAmounts upserts gauges, keeping per key the newest observation.
func (r *Quotas) RecordResourceAmounts(ctx context.Context, amounts []quota.ResourceAmount) (int, error) {
	applied := 0
	for _, a := range amounts {
		row := resourceAmountRow{TenantID: a.TenantID, Namespace: a.Namespace, Resource: a.Resource, Amount: a.Amount, ObservedAt: a.ObservedAt.UTC()}
		res := r.db.conn(ctx).Clauses(newerWins("resource_amounts", []string{"tenant_id", "namespace", "resource"}, "amount")).Create(&row)
		if err := res.Error; err != nil {
			return 0, gaugeError(err)
		}
		applied += int(res.RowsAffected)
	}
	return applied, nil
}

// newerWins is INSERT ... ON CONFLICT DO UPDATE ... WHERE the stored
// observation is older (the same SQL on PostgreSQL and SQLite).
func newerWins(table string, keys []string, value string) clause.OnConflict {
	cols := make([]clause.Column, len(keys))
	for i, k := range keys {
		cols[i] = clause.Column{Name: k}
	}
	return clause.OnConflict{
		Columns:   cols,
		DoUpdates: clause.AssignmentColumns([]string{value, "observed_at"}),
		Where: clause.Where{Exprs: []clause.Expression{
			clause.Expr{SQL: table + ".observed_at < excluded.observed_at"},
		}},
	}
}

// gaugeError reports a gauge for a namespace that does not exist (the
// foreign key) as not found; the caller checks names first, so this only
// happens in a race with a deletion.
func gaugeError(err error) error {
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return &fault.Error{Kind: fault.KindNotFound, Message: "namespace not found", Err: err}
	}
	return classify(err)
}

func (r *Quotas) ObjectCounts(ctx context.Context, tenantID uuid.UUID, namespace string) (map[string]int64, error) {
	var rows []objectCountRow
	if err := r.db.conn(ctx).Where("tenant_id = ? AND namespace = ?", tenantID, namespace).Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make(map[string]int64, len(rows))
	for _, row := range rows {
		out[row.Kind] = row.Count
	}
	return out, nil
}

func (r *Quotas) ResourceAmounts(ctx context.Context, tenantID uuid.UUID, namespace string) (map[string]float64, error) {
	var rows []resourceAmountRow
	if err := r.db.conn(ctx).Where("tenant_id = ? AND namespace = ?", tenantID, namespace).Find(&rows).Error; err != nil {
		return nil, classify(err)
	}
	out := make(map[string]float64, len(rows))
	for _, row := range rows {
		out[row.Resource] = row.Amount
	}
	return out, nil
}

// LimitOverrides returns the tenant's operator overrides (empty when none).
func (r *Quotas) LimitOverrides(ctx context.Context, tenantID uuid.UUID) (quota.Overrides, error) {
	var rows []limitOverridesRow
	if err := r.db.conn(ctx).Where("tenant_id = ?", tenantID).Limit(1).Find(&rows).Error; err != nil {
		return quota.Overrides{}, classify(err)
	}
	if len(rows) == 0 {
		return quota.Overrides{}, nil
	}
	at := rows[0].UpdatedAt.UTC()
	return quota.Overrides{Limits: specFromJSON(rows[0].Spec), UpdatedAt: &at}, nil
}

// SetLimitOverrides replaces the tenant's operator overrides.
func (r *Quotas) SetLimitOverrides(ctx context.Context, tenantID uuid.UUID, l quota.Limits, at time.Time) error {
	row := limitOverridesRow{TenantID: tenantID, Spec: specToJSON(l), UpdatedAt: at.UTC()}
	err := r.db.conn(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "tenant_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"spec", "updated_at"}),
	}).Create(&row).Error
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return fault.NotFoundf("tenant not found")
	}
	return classify(err)
}

// DeleteLimitOverrides removes the tenant's operator overrides (none is fine).
func (r *Quotas) DeleteLimitOverrides(ctx context.Context, tenantID uuid.UUID) error {
	return classify(r.db.conn(ctx).Where("tenant_id = ?", tenantID).Delete(&limitOverridesRow{}).Error)
}
