// Package usage is metering: usage records ingested idempotently and folded
// into hourly, daily and monthly rollups, the queries that read them, and
// pricing from the plan's rate card. No HTTP and no SQL here.
package usage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"billing-api/server/cache"
	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/period"
	"billing-api/server/tenancy"
)

// Store is what metering needs from persistence.
type Store interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
	// LockTenantsForIngest holds the tenants (given sorted) against closing
	// a period until the transaction ends (closing locks the tenant
	// exclusively), so a record is either in a closed month's invoice or
	// flagged late, never neither.
	LockTenantsForIngest(ctx context.Context, ids []uuid.UUID) error
	// InsertRecords stores the records whose (tenant, id) is new and
	// returns, per record, whether it was.
	InsertRecords(ctx context.Context, recs []Record, received time.Time) ([]bool, error)
	// AddRollups adds increments to the rollups, creating missing ones.
	AddRollups(ctx context.Context, rs []Rollup) error

	// SumSeries sums the segments' rollups per series; namespace "" means
	// every namespace.
	SumSeries(ctx context.Context, tenantID uuid.UUID, namespace string, segs []Segment, c Counting) (map[Series]Quantity, error)
	// SumTypes sums the segments' rollups per usage type, over namespaces.
	SumTypes(ctx context.Context, tenantID uuid.UUID, segs []Segment, c Counting) (map[string]Quantity, error)
	// LateTypes sums, per usage type, the quantities of the month that
	// arrived after it was closed.
	LateTypes(ctx context.Context, tenantID uuid.UUID, month time.Time) (map[string]Quantity, error)
	// HourlySeries returns a series' hourly rollups in [from, to), oldest
	// first, at most limit.
	HourlySeries(ctx context.Context, tenantID uuid.UUID, s Series, from, to time.Time, limit int) ([]Rollup, error)

	// SigningKeys returns the breakdown-query signing keys in use, newest
	// first; AddSigningKey adds one; RetireSigningKeys retires all but keep.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	AddSigningKey(ctx context.Context, secret []byte, at time.Time) (SigningKey, error)
	RetireSigningKeys(ctx context.Context, keep int64, at time.Time) (int, error)
}

// Directory resolves the tenant and namespace names records carry.
type Directory interface {
	// TenantID returns the id of the tenant named name (fault not found if
	// there is none).
	TenantID(ctx context.Context, name string) (uuid.UUID, error)
	// RequireNamespace fails with fault not found if the tenant has no such
	// namespace.
	RequireNamespace(ctx context.Context, tenantID uuid.UUID, namespace string) error
}

// Config wires a Service.
type Config struct {
	Store     Store
	Directory Directory
	// Closings tells which tenants' months are closed (their records are
	// flagged late).
	Closings *period.Closings
	// Pricing returns what prices a tenant's usage (its current plan's).
	Pricing func(ctx context.Context, tenantID uuid.UUID) (Pricing, error)
	Types   []Type
	Now     func() time.Time
	// CacheTTL bounds how long another replica's new signing key stays
	// unknown here (default 1 s).
	CacheTTL time.Duration
}

// Service is the metering domain.
type Service struct {
	store    Store
	dir      Directory
	closings *period.Closings
	pricing  func(ctx context.Context, tenantID uuid.UUID) (Pricing, error)
	types    map[string]Type
	now      func() time.Time
	keys     *cache.Cache[struct{}, []SigningKey]
	// Query results, per tenant, scope and (aligned) window; see results.go.
	details *cache.Cache[resultKey, []DetailLine]
	sums    *cache.Cache[resultKey, map[string]Quantity]
	// onChanged run when a tenant's usage (or plan) changes on this replica.
	onChanged []func(ids ...uuid.UUID)
}

// NewService checks cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Directory == nil || cfg.Closings == nil || cfg.Pricing == nil {
		return nil, errors.New("usage: Store, Directory, Closings and Pricing are required")
	}
	s := &Service{
		store: cfg.Store, dir: cfg.Directory, closings: cfg.Closings, pricing: cfg.Pricing, now: clock.Normalized(cfg.Now),
		types: make(map[string]Type, len(cfg.Types)),
	}
	ttl := cfg.CacheTTL
	if ttl <= 0 {
		ttl = time.Second
	}
	s.keys = cache.New[struct{}, []SigningKey](ttl, s.now, func(struct{}) string { return "signing-keys" })
	s.details = cache.New[resultKey, []DetailLine](ttl, s.now, resultKey.String)
	s.sums = cache.New[resultKey, map[string]Quantity](ttl, s.now, resultKey.String)
	for _, t := range cfg.Types {
		s.types[t.Name] = t
	}
	return s, nil
}

// Types returns the usage types, by name.
func (s *Service) Types() map[string]Type { return s.types }

// IngestResult counts what a batch did.
type IngestResult struct {
	// Accepted records were new and are stored; Duplicates had been seen
	// before (or twice in the batch) and changed nothing; Late is how many
	// accepted records fell in a month already invoiced.
	Accepted, Duplicates, Late int
}

// errDryRun rolls a dry run's transaction back.
var errDryRun = errors.New("dry run")

// Ingest checks a batch and stores it in one transaction: every record is
// checked first, and any bad one fails the whole batch with a 400 listing
// every problem by index. Records already seen (by tenant and id) are
// counted as duplicates and change nothing. With dryRun everything is done
// and then rolled back, so the counts are exactly what a real run would do.
func (s *Service) Ingest(ctx context.Context, in []RecordInput, dryRun bool) (IngestResult, error) {
	recs, err := s.check(ctx, in)
	if err != nil {
		return IngestResult{}, err
	}
	var res IngestResult
	tenants := uniqueTenants(recs)
	err = s.store.WithTx(ctx, func(ctx context.Context) error {
		res = IngestResult{}
		if err := s.store.LockTenantsForIngest(ctx, tenants); err != nil {
			return err
		}
		if err := s.flagLate(ctx, tenants, recs); err != nil {
			return err
		}
		fresh, err := s.store.InsertRecords(ctx, recs, s.now())
		if err != nil {
			return err
		}
		accepted := recs[:0:0]
		for i, r := range recs {
			if fresh[i] {
				accepted = append(accepted, r)
				if r.Late {
					res.Late++
				}
			}
		}
		res.Accepted, res.Duplicates = len(accepted), len(in)-len(accepted)
		if len(accepted) > 0 {
			// In key order (Fold sorts): batches sharing rollups wait for
			// each other row by row, never in a cycle.
			if err := s.store.AddRollups(ctx, Fold(accepted)); err != nil {
				return err
			}
		}
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		return res, nil
	}
	if res.Accepted > 0 {
		// Whether or not the commit reported success, the batch may be in.
		s.InvalidateTenants(tenants...)
	}
	return res, err
}

// check validates every record, resolving names once per batch, and drops
// repeats of a (tenant, id) within the batch (the first one counts).
func (s *Service) check(ctx context.Context, in []RecordInput) ([]Record, error) {
	var v fault.Violations
	if len(in) == 0 {
		v.Add("records", "minItems", "a batch needs at least one record")
	}
	if len(in) > MaxBatchRecords {
		v.Add("records", "maxItems", fmt.Sprintf("a batch holds at most %d records", MaxBatchRecords))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	names := newBatchNames(s.dir)
	now := s.now()
	seen := make(map[[2]string]bool, len(in))
	recs := make([]Record, 0, len(in))
	for i, r := range in {
		rec, err := s.checkRecord(ctx, &v, fmt.Sprintf("records[%d]", i), r, names, now)
		if err != nil {
			return nil, err
		}
		dup := [2]string{r.Tenant, r.ID}
		if v.Len() > 0 || seen[dup] {
			continue
		}
		seen[dup] = true
		recs = append(recs, rec)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return recs, nil
}

// checkRecord adds the broken rules of one record, named field, to v and
// returns the record as stored. An error is one the record did not cause
// (the directory failed).
func (s *Service) checkRecord(ctx context.Context, v *fault.Violations, field string, r RecordInput, names *batchNames, now time.Time) (Record, error) {
	if msg := checkText(r.ID, MaxIDLength); msg != "" {
		v.Add(field+".id", "id", msg)
	}
	if msg := checkText(r.ObjectName, MaxObjectName); msg != "" {
		v.Add(field+".object_name", "name", msg)
	}
	id, err := names.tenant(ctx, r.Tenant)
	switch {
	case fault.KindOf(err) == fault.KindNotFound:
		v.Add(field+".tenant", "exists", fmt.Sprintf("there is no tenant named %q", r.Tenant))
	case err != nil:
		return Record{}, err
	default:
		err := names.namespace(ctx, id, r.Namespace)
		switch {
		case fault.KindOf(err) == fault.KindNotFound:
			v.Add(field+".namespace", "exists", fmt.Sprintf("tenant %q has no namespace %q", r.Tenant, r.Namespace))
		case err != nil:
			return Record{}, err
		}
	}
	t, known := s.types[r.UsageType]
	switch {
	case !known:
		v.Add(field+".usage_type", "enum", fmt.Sprintf("%q is not a usage type of this service", r.UsageType))
	case r.Unit != t.Unit:
		v.Add(field+".unit", "enum", fmt.Sprintf("%s is measured in %q, not %q", r.UsageType, t.Unit, r.Unit))
	}
	q, ok := QuantityOf(r.Quantity)
	if !ok {
		v.Add(field+".quantity", "range", fmt.Sprintf("must be a finite number from 0 to %g", float64(MaxRecordQuantity)))
	}
	at := clock.Normalize(r.Timestamp)
	switch {
	case r.Timestamp.IsZero():
		v.Add(field+".timestamp", "required", "is required")
	case at.After(now.Add(MaxLead)):
		v.Add(field+".timestamp", "maximum", fmt.Sprintf("must not be more than %s ahead of the server's clock", MaxLead))
	case at.Before(now.Add(-MaxAge)):
		v.Add(field+".timestamp", "minimum", "must not be more than two years old")
	}
	return Record{
		TenantID: id, ID: r.ID, Series: Series{Namespace: r.Namespace, UsageType: r.UsageType, ObjectName: r.ObjectName},
		Unit: r.Unit, Quantity: q, At: at,
	}, nil
}

// batchNames resolves the tenant and namespace names of one batch, each
// name once, remembering what it found (or that it found nothing).
type batchNames struct {
	dir        Directory
	tenants    map[string]tenantLookup
	namespaces map[namespaceKey]error
}

type tenantLookup struct {
	id  uuid.UUID
	err error
}

type namespaceKey struct {
	tenant uuid.UUID
	name   string
}

func newBatchNames(dir Directory) *batchNames {
	return &batchNames{dir: dir, tenants: map[string]tenantLookup{}, namespaces: map[namespaceKey]error{}}
}

// tenant is the id of the tenant named name (fault not found if none).
func (b *batchNames) tenant(ctx context.Context, name string) (uuid.UUID, error) {
	l, ok := b.tenants[name]
	if !ok {
		l.id, l.err = b.dir.TenantID(ctx, name)
		b.tenants[name] = l
	}
	return l.id, l.err
}

// namespace fails with fault not found if the tenant has no such namespace.
func (b *batchNames) namespace(ctx context.Context, tenantID uuid.UUID, name string) error {
	k := namespaceKey{tenantID, name}
	err, ok := b.namespaces[k]
	if !ok {
		err = b.dir.RequireNamespace(ctx, tenantID, name)
		b.namespaces[k] = err
	}
	return err
}

func uniqueTenants(recs []Record) []uuid.UUID {
	set := map[uuid.UUID]bool{}
	for _, r := range recs {
		set[r.TenantID] = true
	}
	ids := slices.Collect(maps.Keys(set))
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	return ids
}

func (s *Service) flagLate(ctx context.Context, tenants []uuid.UUID, recs []Record) error {
	monthSet := map[period.Month]bool{}
	for _, r := range recs {
		monthSet[r.Month()] = true
	}
	closed, err := s.closings.ClosedAmong(ctx, tenants, slices.Collect(maps.Keys(monthSet)))
	if err != nil || len(closed) == 0 {
		return err
	}
	for i := range recs {
		recs[i].Late = slices.Contains(closed[recs[i].TenantID], recs[i].Month())
	}
	return nil
}

// Counting says which usage a sum counts.
type Counting int

const (
	// AllUsage counts every record, late ones too.
	AllUsage Counting = iota
	// BilledUsage leaves out the records that arrived after their month
	// was closed: what the month's invoice billed.
	BilledUsage
)

// Sums sums the tenant's usage per type over [from, to), which must be whole
// hours, read from the store (never the result cache): what an invoice bills.
func (s *Service) Sums(ctx context.Context, tenantID uuid.UUID, from, to time.Time, c Counting) (map[string]Quantity, error) {
	w := Window{From: from.UTC(), To: to.UTC()}
	if !w.To.After(w.From) {
		return map[string]Quantity{}, nil
	}
	return s.store.SumTypes(ctx, tenantID, s.segments(w), c)
}

// NamespaceSums sums the tenant's usage over [from, to) (whole hours) per
// usage type and namespace, read from the store.
func (s *Service) NamespaceSums(ctx context.Context, tenantID uuid.UUID, from, to time.Time, c Counting) (map[string]map[string]Quantity, error) {
	out := map[string]map[string]Quantity{}
	w := Window{From: from.UTC(), To: to.UTC()}
	if !w.To.After(w.From) {
		return out, nil
	}
	series, err := s.store.SumSeries(ctx, tenantID, "", s.segments(w), c)
	if err != nil {
		return nil, err
	}
	for sr, q := range series {
		if out[sr.UsageType] == nil {
			out[sr.UsageType] = map[string]Quantity{}
		}
		out[sr.UsageType][sr.Namespace] += q
	}
	return out, nil
}

// Late returns, per usage type, the tenant's usage of month m that arrived
// after the month was closed (reported, never billed).
func (s *Service) Late(ctx context.Context, tenantID uuid.UUID, m period.Month) (map[string]Quantity, error) {
	return s.store.LateTypes(ctx, tenantID, m.Start())
}

// OnTenantsChanged registers fn to run when tenants' usage or plan changes
// on this replica (what is derived from their usage drops its cached state).
func (s *Service) OnTenantsChanged(fn func(ids ...uuid.UUID)) { s.onChanged = append(s.onChanged, fn) }

// ---- signing keys

func (s *Service) signingKeys(ctx context.Context) ([]SigningKey, error) {
	return s.keys.Get(ctx, struct{}{}, func(ctx context.Context) ([]SigningKey, error) {
		keys, err := s.store.SigningKeys(ctx)
		if err != nil || len(keys) > 0 {
			return keys, err
		}
		// The first query of a new database makes the first key; replicas
		// racing here each add one and all of them verify.
		if _, err := s.store.AddSigningKey(ctx, newSecret(), s.now()); err != nil {
			return nil, err
		}
		return s.store.SigningKeys(ctx)
	})
}

func newSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}

// RotateSigningKey adds a new key that signs from now on; queries signed
// with older keys keep working unless retireOld, which makes them fail at
// once on this replica and within the cache TTL on the others.
func (s *Service) RotateSigningKey(ctx context.Context, retireOld bool) (key SigningKey, retired int, err error) {
	key, err = s.store.AddSigningKey(ctx, newSecret(), s.now())
	if err == nil && retireOld {
		retired, err = s.store.RetireSigningKeys(ctx, key.ID, s.now())
	}
	s.keys.Invalidate(struct{}{})
	s.details.InvalidateWhere(func(resultKey, []DetailLine) bool { return true }) // they carry signed queries
	return key, retired, err
}

func (s *Service) signer(ctx context.Context) (func(BreakdownQuery) string, error) {
	keys, err := s.signingKeys(ctx)
	if err != nil {
		return nil, err
	}
	return newSigner(keys[0]), nil
}

// openQuery verifies a breakdown query for tenant: forged, altered or
// another tenant's → 400.
func (s *Service) openQuery(ctx context.Context, tenantID uuid.UUID, raw string) (BreakdownQuery, error) {
	bad := fault.InvalidField("query", "signature", "is not a breakdown query this service issued (pass hourly_breakdown_query back unchanged)")
	q, payload, sum, ok := decodeUnverified(raw)
	if !ok {
		return q, bad
	}
	find := func(keys []SigningKey) (SigningKey, bool) {
		i := slices.IndexFunc(keys, func(k SigningKey) bool { return k.ID == q.KeyID })
		if i < 0 {
			return SigningKey{}, false
		}
		return keys[i], true
	}
	keys, err := s.signingKeys(ctx)
	if err != nil {
		return q, err
	}
	k, found := find(keys)
	if !found {
		// Perhaps another replica's newer key: look once more, uncached.
		if keys, err = s.store.SigningKeys(ctx); err != nil {
			return q, err
		}
		k, found = find(keys)
	}
	// Another tenant's query fails here exactly like a forged one, so
	// nothing is learnt about other tenants.
	if !found || !verify(k, tenantID, payload, sum) {
		return q, bad
	}
	q.Tenant = tenantID
	return q, nil
}

// ---- access

// scope is the namespace filter a query runs with: "" for the whole tenant
// (asked in system), else the namespace asked in.
func scope(namespace string) string {
	if namespace == tenancy.SystemNamespace {
		return ""
	}
	return namespace
}
