package usage

import (
	"strconv"

	"github.com/google/uuid"
)

// Usage query results are cached per tenant, scope and window, like the
// request path's other lookups (server/cache): an entry lives one second
// from when its load began, and the replica that ingests a tenant's records
// (or changes its plan, or rotates the signing keys) drops the tenant's
// entries at once, so a replica shows new usage at once where it was
// ingested and within a second everywhere else. Windows are aligned to whole
// hours before they become keys, so a dashboard asking "month to date" again
// and again hits the same entry.
type resultKey struct {
	tenant   uuid.UUID
	scope    string
	from, to int64
}

func (k resultKey) String() string {
	return k.tenant.String() + "/" + k.scope + "/" + strconv.FormatInt(k.from, 10) + "-" + strconv.FormatInt(k.to, 10)
}

func keyOf(tenant uuid.UUID, scope string, w Window) resultKey {
	return resultKey{tenant: tenant, scope: scope, from: w.From.Unix(), to: w.To.Unix()}
}

// InvalidateTenants drops the cached query results of the tenants (their
// usage or their plan changed).
func (s *Service) InvalidateTenants(ids ...uuid.UUID) {
	set := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	s.details.InvalidateWhere(func(k resultKey, _ []DetailLine) bool { return set[k.tenant] })
	s.sums.InvalidateWhere(func(k resultKey, _ map[string]Quantity) bool { return set[k.tenant] })
	for _, fn := range s.onChanged {
		fn(ids...)
	}
}
