package quota

import (
	"context"
	"maps"

	"github.com/google/uuid"

	"billing-api/server/tenancy"
)

// scopeTenant marks limits that hold tenant-wide (from the plan or from
// quota objects in system); a namespace name marks namespace-only ones.
const scopeTenant = ""

// Effective is the limits in force for one namespace, with, for each API
// limit, the scope that set it (so rate-limit buckets are shared exactly as
// widely as the limit).
type Effective struct {
	Limits
	apiScope map[string]string
	// apiRank orders API limits by when they were laid on (later = more
	// specific), so an operation named by two keys takes the later one.
	apiRank map[string]int
}

// overlay applies src over e key by key.
func (e *Effective) overlay(src Limits, scope string) {
	maps.Copy(e.Objects, src.Objects)
	maps.Copy(e.Resources, src.Resources)
	for _, k := range sortedKeys(src.APIs) {
		e.APIs[k] = src.APIs[k].Resolved()
		e.apiScope[k] = scope
		e.apiRank[k] = len(e.apiRank) + 1
	}
}

// EffectiveLimits is the plan's default quota, overridden key by key by the
// enabled quota objects in system, overridden by those in the namespace
// itself. Within one namespace, a newer object overrides an older one.
func (s *Service) EffectiveLimits(ctx context.Context, tenantID uuid.UUID, namespace string) (Effective, error) {
	def, err := s.defaults.DefaultQuota(ctx, tenantID)
	if err != nil {
		return Effective{}, err
	}
	eff := Effective{
		Limits:   Limits{Objects: map[string]int32{}, Resources: map[string]float64{}, APIs: map[string]RateLimit{}},
		apiScope: map[string]string{},
		apiRank:  map[string]int{},
	}
	eff.overlay(def, scopeTenant)
	namespaces := []string{tenancy.SystemNamespace}
	if namespace != tenancy.SystemNamespace {
		namespaces = append(namespaces, namespace)
	}
	objs, err := s.store.EnabledSpecs(ctx, tenantID, namespaces)
	if err != nil {
		return Effective{}, err
	}
	for _, ns := range namespaces {
		scope := scopeTenant
		if ns != tenancy.SystemNamespace {
			scope = ns
		}
		for _, o := range objs {
			if o.Namespace == ns {
				eff.overlay(o.Spec, scope)
			}
		}
	}
	return eff, nil
}

// APILimit finds the limit for an operation, named by its operation id or
// its vendor RPC name; when both are set, the more specific one (laid on
// later) wins, exactly as for one key.
func (e Effective) APILimit(operationID, vendorID string) (RateLimit, string, string, bool) {
	best, bestRank := "", 0
	for _, key := range []string{operationID, vendorID} {
		if rank, ok := e.apiRank[key]; ok && key != "" && rank > bestRank {
			best, bestRank = key, rank
		}
	}
	if best == "" {
		return RateLimit{}, "", "", false
	}
	return e.APIs[best], best, e.apiScope[best], true
}

// Usage is what is in use against each effective limit.
type Usage struct {
	Limits    Effective
	Objects   map[string]int64
	Resources map[string]float64
	// APIs is the requests currently taken from each API limit's bucket on
	// this replica.
	APIs map[string]int64
}
