package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
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
	labels, err := jsonColumn(o.Labels)
	if err != nil {
		return fault.Internal(err)
	}
	annotations, err := jsonColumn(o.Annotations)
	if err != nil {
		return fault.Internal(err)
	}
	spec, err := json.Marshal(specToJSON(o.Spec))
	if err != nil {
		return fault.Internal(err)
	}
	res, err := r.db.exec(ctx, `UPDATE quota_objects SET labels = $1, annotations = $2, description = $3, disabled = $4, spec = $5, updated_at = $6
		WHERE tenant_id = $7 AND namespace = $8 AND name = $9`,
		labels, annotations, o.Description, o.Disabled, string(spec), o.UpdatedAt.UTC(), r.db.id(o.TenantID), o.Namespace, o.Name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return classify(err)
	} else if n == 0 {
		return fault.ErrNotFound
	}
	return nil
}

// jsonColumn is a map as a nullable JSON column: nil (not sent) is NULL.
func jsonColumn(m map[string]string) (any, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// The reads of quota objects scan their columns by hand: GORM's
// reflection-driven Scan and JSON serializer cost more CPU than the query
// itself on a 50-object list. They still go through GORM's connection and
// query builder. The stored JSON is decoded with encoding/json/v2's
// reference implementation (github.com/go-json-experiment/json, the
// module that also gives jsontext): half the time and a quarter of the
// allocations of encoding/json for these small objects.

// summaryColumns are what a list item shows; fullColumns add the spec and
// the system metadata.
var (
	summaryColumns = []string{"uid", "name", "labels", "annotations", "description", "disabled"}
	fullColumns    = append(slices.Clone(summaryColumns), "spec", "creator_id", "creator_class", "created_at", "updated_at")
)

// scanObject reads one row of summaryColumns or fullColumns into o.
func scanObject(rows *sql.Rows, full bool, o *quota.Object) error {
	var labels, annotations, spec []byte
	dest := []any{&o.UID, &o.Name, &labels, &annotations, &o.Description, &o.Disabled}
	if full {
		dest = append(dest, &spec, &o.CreatorID, &o.CreatorClass, &o.CreatedAt, &o.UpdatedAt)
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	if err := unmarshalMap(labels, &o.Labels); err != nil {
		return err
	}
	if err := unmarshalMap(annotations, &o.Annotations); err != nil {
		return err
	}
	if full {
		var sj specJSON
		if err := jsonv2.Unmarshal(spec, &sj); err != nil {
			return err
		}
		o.Spec = specFromJSON(sj)
		o.CreatedAt, o.UpdatedAt = o.CreatedAt.UTC(), o.UpdatedAt.UTC()
	}
	return nil
}

func (r *Quotas) queryObjects(ctx context.Context, full bool, where string, args ...any) ([]quota.Object, error) {
	cols := summaryColumns
	if full {
		cols = fullColumns
	}
	rows, err := r.db.query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM quota_objects WHERE "+where+" ORDER BY name", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []quota.Object
	for rows.Next() {
		var o quota.Object
		if err := scanObject(rows, full, &o); err != nil {
			return nil, classify(err)
		}
		out = append(out, o)
	}
	return out, classify(rows.Err())
}

func (r *Quotas) GetObject(ctx context.Context, tenantID uuid.UUID, namespace, name string) (quota.Object, error) {
	objs, err := r.queryObjects(ctx, true, "tenant_id = $1 AND namespace = $2 AND name = $3", r.db.id(tenantID), namespace, name)
	if err != nil {
		return quota.Object{}, err
	}
	if len(objs) == 0 {
		return quota.Object{}, fault.ErrNotFound
	}
	o := objs[0]
	o.TenantID, o.Namespace = tenantID, namespace
	return o, nil
}

func (r *Quotas) ListObjects(ctx context.Context, tenantID uuid.UUID, namespace string, full bool) ([]quota.Object, error) {
	objs, err := r.queryObjects(ctx, full, "tenant_id = $1 AND namespace = $2", r.db.id(tenantID), namespace)
	for i := range objs {
		objs[i].TenantID, objs[i].Namespace = tenantID, namespace
	}
	return objs, err
}

func (r *Quotas) EnabledSpecs(ctx context.Context, tenantID uuid.UUID, namespaces []string) ([]quota.NamespacedSpec, error) {
	args := []any{r.db.id(tenantID)}
	in := make([]string, len(namespaces))
	for i, ns := range namespaces {
		args = append(args, ns)
		in[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err := r.db.query(ctx, "SELECT namespace, spec FROM quota_objects WHERE tenant_id = $1 AND namespace IN ("+
		strings.Join(in, ", ")+") AND NOT disabled ORDER BY created_at, name", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []quota.NamespacedSpec
	for rows.Next() {
		var ns string
		var raw []byte
		if err := rows.Scan(&ns, &raw); err != nil {
			return nil, classify(err)
		}
		var sj specJSON
		if err := jsonv2.Unmarshal(raw, &sj); err != nil {
			return nil, classify(err)
		}
		out = append(out, quota.NamespacedSpec{Namespace: ns, Spec: specFromJSON(sj)})
	}
	return out, classify(rows.Err())
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
	return r.db.count(ctx, "SELECT count(*) FROM quota_objects WHERE tenant_id = $1 AND namespace = $2", r.db.id(tenantID), namespace)
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

// UsageGauges returns a namespace's latest object-count and resource
// gauges and its number of quota objects, in one round trip (the first
// column tells the rows apart: g gauge, a amount, q quota objects).
func (r *Quotas) UsageGauges(ctx context.Context, tenantID uuid.UUID, namespace string) (map[string]int64, map[string]float64, int64, error) {
	rows, err := r.db.query(ctx, `SELECT 'g', kind, count, NULL FROM object_counts WHERE tenant_id = $1 AND namespace = $2
		UNION ALL SELECT 'a', resource, NULL, amount FROM resource_amounts WHERE tenant_id = $1 AND namespace = $2
		UNION ALL SELECT 'q', '', count(*), NULL FROM quota_objects WHERE tenant_id = $1 AND namespace = $2`,
		r.db.id(tenantID), namespace)
	if err != nil {
		return nil, nil, 0, err
	}
	defer rows.Close()
	counts, amounts := map[string]int64{}, map[string]float64{}
	var own int64
	for rows.Next() {
		var what, key string
		var count sql.NullInt64
		var amount sql.NullFloat64
		if err := rows.Scan(&what, &key, &count, &amount); err != nil {
			return nil, nil, 0, classify(err)
		}
		switch what {
		case "g":
			counts[key] = count.Int64
		case "a":
			amounts[key] = amount.Float64
		default:
			own = count.Int64
		}
	}
	return counts, amounts, own, classify(rows.Err())
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
