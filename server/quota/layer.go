package quota

import (
	"context"
	"maps"

	"github.com/google/uuid"

	"billing-api/server/tenancy"
)

// APIKeys names API limits: a limit keyed by an operation's vendor RPC name
// (ves.io.schema.quota.API.List) and one keyed by its operation id
// (listQuotas) are the same limit. Canonical returns the operation id for
// either spelling and any other key unchanged.
type APIKeys interface {
	Canonical(key string) string
}

// SameKeys is the APIKeys that knows no aliases.
type SameKeys struct{}

func (SameKeys) Canonical(key string) string { return key }

// Effective is the limits in force for one namespace.
//
// The tenant's ceiling is its plan's default quota overlaid by the
// operator's limit overrides. Quota objects can only tighten it: first the
// enabled objects in system (tenant-wide), then those in the namespace; for
// each key the effective value is the stricter of the level above and the
// level's own value, where within one level the newest object's value wins
// and -1 in an object means "no further restriction".
type Effective struct {
	// Limits is what holds in the namespace, API keys canonical.
	Limits
	// TenantAPIs are the tenant-wide API limits (ceiling and system
	// objects): one bucket each for the whole tenant.
	TenantAPIs map[string]RateLimit
	// NamespaceAPIs are the API limits the namespace's own objects set
	// (already no looser than the tenant-wide ones): one bucket each for
	// requests in this namespace, taken from as well as the tenant's.
	NamespaceAPIs map[string]RateLimit
}

// Layer computes the effective limits of a namespace from the ceiling and
// the enabled objects of system and of the namespace, each oldest first
// (pass nil namespace objects for system itself).
func Layer(ceiling Limits, system, namespace []Limits, keys APIKeys) Effective {
	tenant := tighten(canonical(ceiling, keys), newestWins(system, keys))
	ownNS := newestWins(namespace, keys)
	e := Effective{
		Limits:        tighten(tenant, ownNS),
		TenantAPIs:    tenant.APIs,
		NamespaceAPIs: map[string]RateLimit{},
	}
	for k := range ownNS.APIs {
		e.NamespaceAPIs[k] = e.APIs[k]
	}
	return e
}

// Overlay lays src over base key by key (the operator's overrides over the
// plan: they may raise or lower any key).
func Overlay(base, src Limits, keys APIKeys) Limits {
	out := canonical(base, keys)
	maps.Copy(out.Objects, src.Objects)
	maps.Copy(out.Resources, src.Resources)
	for k, r := range src.APIs {
		out.APIs[keys.Canonical(k)] = r.Resolved()
	}
	return out
}

// canonical copies l with API keys canonical and rate limits resolved; when
// both spellings of one operation are present the operation id wins.
func canonical(l Limits, keys APIKeys) Limits {
	out := emptyLimits()
	maps.Copy(out.Objects, l.Objects)
	maps.Copy(out.Resources, l.Resources)
	for _, k := range sortedKeys(l.APIs) {
		c := keys.Canonical(k)
		if _, taken := out.APIs[c]; taken && k != c {
			continue
		}
		out.APIs[c] = l.APIs[k].Resolved()
	}
	return out
}

// newestWins folds one level's objects (oldest first) into the values that
// level sets: a newer object's value replaces an older one's, whichever
// spelling of an API key either used.
func newestWins(objects []Limits, keys APIKeys) Limits {
	out := emptyLimits()
	for _, o := range objects {
		c := canonical(o, keys)
		maps.Copy(out.Objects, c.Objects)
		maps.Copy(out.Resources, c.Resources)
		maps.Copy(out.APIs, c.APIs)
	}
	return out
}

// tighten applies a level's values under the level above: each key takes
// the stricter of the two.
func tighten(above, level Limits) Limits {
	out := emptyLimits()
	maps.Copy(out.Objects, above.Objects)
	maps.Copy(out.Resources, above.Resources)
	maps.Copy(out.APIs, above.APIs)
	for k, v := range level.Objects {
		if a, ok := out.Objects[k]; ok {
			out.Objects[k] = stricterMax(a, v)
		} else if v != Unlimited {
			out.Objects[k] = v
		}
	}
	for k, v := range level.Resources {
		if a, ok := out.Resources[k]; ok {
			out.Resources[k] = stricterMax(a, v)
		} else if v != Unlimited {
			out.Resources[k] = v
		}
	}
	for k, v := range level.APIs {
		if a, ok := out.APIs[k]; ok {
			out.APIs[k] = stricterRate(a, v)
		} else {
			out.APIs[k] = v
		}
	}
	return out
}

// stricterMax is the stricter of a maximum from above and one from a
// tenant's object: -1 above is unlimited, -1 in the object adds nothing.
func stricterMax[N int32 | float64](above, object N) N {
	switch {
	case object == Unlimited:
		return above
	case above == Unlimited:
		return object
	}
	return min(above, object)
}

// stricterRate is the stricter of two resolved rate limits: the lower
// sustained rate (with its unit) and the smaller burst.
func stricterRate(a, b RateLimit) RateLimit {
	out := a
	if perSecond(b) < perSecond(a) {
		out = RateLimit{Rate: b.Rate, Unit: b.Unit}
	}
	burst := min(*a.Burst, *b.Burst)
	out.Burst = &burst
	return out
}

func emptyLimits() Limits {
	return Limits{Objects: map[string]int32{}, Resources: map[string]float64{}, APIs: map[string]RateLimit{}}
}

// Ceiling is the most a tenant may have: its plan's default quota overlaid
// by the operator's limit overrides.
func (s *Service) Ceiling(ctx context.Context, tenantID uuid.UUID) (Limits, error) {
	def, err := s.defaults.DefaultQuota(ctx, tenantID)
	if err != nil {
		return Limits{}, err
	}
	o, err := s.LimitOverrides(ctx, tenantID)
	if err != nil {
		return Limits{}, err
	}
	return Overlay(def, o.Limits, s.keys), nil
}

// EffectiveLimits are the limits in force in a namespace (see Effective),
// from the cache on the request path and from the store inside a
// transaction (a room check sees exactly what it locks).
func (s *Service) EffectiveLimits(ctx context.Context, tenantID uuid.UUID, namespace string) (Effective, error) {
	return s.effective.Get(ctx, limitsKey{tenantID, namespace}, func(ctx context.Context) (Effective, error) {
		return s.layer(ctx, tenantID, namespace)
	})
}

func (s *Service) layer(ctx context.Context, tenantID uuid.UUID, namespace string) (Effective, error) {
	ceiling, err := s.Ceiling(ctx, tenantID)
	if err != nil {
		return Effective{}, err
	}
	namespaces := []string{tenancy.SystemNamespace}
	if namespace != tenancy.SystemNamespace {
		namespaces = append(namespaces, namespace)
	}
	specs, err := s.store.EnabledSpecs(ctx, tenantID, namespaces)
	if err != nil {
		return Effective{}, err
	}
	var system, own []Limits
	for _, o := range specs {
		if o.Namespace == tenancy.SystemNamespace {
			system = append(system, o.Spec)
		} else {
			own = append(own, o.Spec)
		}
	}
	return Layer(ceiling, system, own, s.keys), nil
}

// Usage is what is in use against each effective limit.
type Usage struct {
	Limits    Effective
	Objects   map[string]int64
	Resources map[string]float64
	// APIs is the requests currently taken from each API limit's bucket on
	// this replica (the namespace's own bucket where it has one).
	APIs map[string]int64
}
