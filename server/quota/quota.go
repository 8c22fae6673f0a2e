// Package quota holds the quota rules: quota objects and their validation,
// the effective limits of a namespace (the plan's default quota and the
// operator's overrides as a ceiling, tightened by the tenant's objects in
// system and in the namespace), usage against them, the room check every
// domain creating counted objects goes through, and the api_limits token
// buckets enforced on this API. No HTTP and no SQL here; the store
// implements Store.
package quota

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// KindQuota is the object kind of quota objects, which the quota domain
// counts itself. Other domains register their own kinds (CountKind).
const KindQuota = "quota"

// Unlimited as a maximum means no limit.
const Unlimited = -1

// Unit is the period a rate limit counts over.
type Unit string

const (
	Second Unit = "SECOND"
	Minute Unit = "MINUTE"
	Hour   Unit = "HOUR"
	Day    Unit = "DAY"
)

// Duration is the length of the unit.
func (u Unit) Duration() time.Duration {
	switch u {
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	case Day:
		return 24 * time.Hour
	default:
		return time.Second
	}
}

// Valid reports whether u is a known unit ("" means the default, SECOND).
func (u Unit) Valid() bool {
	switch u {
	case "", Second, Minute, Hour, Day:
		return true
	}
	return false
}

// RateLimit is one api_limits entry as written: Unit "" and Burst nil mean
// "not given" so that an object reads back exactly as it was sent.
type RateLimit struct {
	Rate  int32
	Unit  Unit
	Burst *int32
}

// Resolved fills the defaults: unit SECOND, burst = rate.
func (r RateLimit) Resolved() RateLimit {
	out := RateLimit{Rate: r.Rate, Unit: r.Unit}
	if out.Unit == "" {
		out.Unit = Second
	}
	burst := r.Rate
	if r.Burst != nil && *r.Burst > 0 {
		burst = *r.Burst
	}
	out.Burst = &burst
	return out
}

// Limits is a set of limits by key. A nil map means "not given" (kept for
// an exact read-back); for effective limits nil and empty are the same.
type Limits struct {
	Objects   map[string]int32
	Resources map[string]float64
	APIs      map[string]RateLimit
}

// Object is a quota object.
type Object struct {
	UID        uuid.UUID
	TenantID   uuid.UUID
	TenantName string
	Namespace  string
	Name       string
	// Labels, Annotations and Description are nil when the client did not
	// send them, so they read back exactly.
	Labels       map[string]string
	Annotations  map[string]string
	Description  *string
	Disabled     bool
	Spec         Limits
	CreatorID    string
	CreatorClass string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NamespacedSpec is the spec of one quota object with its namespace.
type NamespacedSpec struct {
	Namespace string
	Spec      Limits
}

// ObjectCount is an object-count gauge: how many objects of a kind a
// tenant's namespace held when observed.
type ObjectCount struct {
	TenantID   uuid.UUID
	Namespace  string
	Kind       string
	Count      int64
	ObservedAt time.Time
}

// Overrides are the operator's limit overrides of one tenant: over its
// plan's default quota they raise or lower any key.
type Overrides struct {
	Limits    Limits
	UpdatedAt *time.Time
}

// ResourceAmount is a resource gauge: how much of a resource a namespace
// used when observed.
type ResourceAmount struct {
	TenantID   uuid.UUID
	Namespace  string
	Resource   string
	Amount     float64
	ObservedAt time.Time
}

// Store is what quota needs from persistence. Missing rows come back as
// fault not-found errors, duplicates as conflicts.
type Store interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
	// LockTenant serialises writers of one tenant until the transaction
	// ends, without blocking unrelated writes that merely reference the
	// tenant (such as inserts checking a foreign key).
	LockTenant(ctx context.Context, tenantID uuid.UUID) error

	CreateObject(ctx context.Context, o Object) error
	// ReplaceObject overwrites an object's metadata, spec and modification
	// time (not found if there is none).
	ReplaceObject(ctx context.Context, o Object) error
	GetObject(ctx context.Context, tenantID uuid.UUID, namespace, name string) (Object, error)
	// ListObjects returns a namespace's objects sorted by name; without
	// full, only what a list item shows (no spec, no system metadata).
	ListObjects(ctx context.Context, tenantID uuid.UUID, namespace string, full bool) ([]Object, error)
	// EnabledSpecs returns the specs of the enabled objects of the
	// namespaces, oldest first (only what effective limits need).
	EnabledSpecs(ctx context.Context, tenantID uuid.UUID, namespaces []string) ([]NamespacedSpec, error)
	DeleteObject(ctx context.Context, tenantID uuid.UUID, namespace, name string) error
	CountObjects(ctx context.Context, tenantID uuid.UUID, namespace string) (int64, error)

	// RecordObjectCounts and RecordResourceAmounts keep, per key, the gauge
	// with the latest observation time; they return how many gauges were
	// newer than the stored ones.
	RecordObjectCounts(ctx context.Context, counts []ObjectCount) (int, error)
	RecordResourceAmounts(ctx context.Context, amounts []ResourceAmount) (int, error)
	// UsageGauges returns the latest object-count and resource gauges of a
	// namespace, by kind and by resource, and how many quota objects it
	// holds: one round trip for what quota/usage reads.
	UsageGauges(ctx context.Context, tenantID uuid.UUID, namespace string) (counts map[string]int64, amounts map[string]float64, quotaObjects int64, err error)

	// LimitOverrides returns the tenant's overrides (empty when none).
	LimitOverrides(ctx context.Context, tenantID uuid.UUID) (Overrides, error)
	SetLimitOverrides(ctx context.Context, tenantID uuid.UUID, l Limits, at time.Time) error
	DeleteLimitOverrides(ctx context.Context, tenantID uuid.UUID) error
}

// DefaultQuotas gives the default limits of a tenant's current plan.
type DefaultQuotas interface {
	DefaultQuota(ctx context.Context, tenantID uuid.UUID) (Limits, error)
}

// Counter counts the objects of one kind the service itself keeps in a
// tenant's namespace (quota objects; payment methods and subscriptions when
// those domains register theirs).
type Counter func(ctx context.Context, tenantID uuid.UUID, namespace string) (int64, error)
