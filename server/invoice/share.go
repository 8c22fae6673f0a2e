package invoice

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"billing-api/server/money"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
)

// Shares splits a month's draft among the tenant's namespaces. Each usage
// charge goes to the namespaces that used its type during the hours it
// metered: each gets its own quantity, and the charge's amount and billable
// units allocated in proportion to it by largest remainder, so that the
// namespaces' amounts for a charge sum exactly to the tenant's. Fees,
// add-ons and coupons are the tenant's, not a namespace's: they stay in the
// draft, which is what the system namespace shows. What Shares returns is
// shared by every caller: never modified.
func (s *Service) shares(ctx context.Context, d Draft, key draftKey) (map[string]Draft, error) {
	return s.shareCache.Get(ctx, key, func(ctx context.Context) (map[string]Draft, error) {
		return s.splitByNamespace(ctx, d)
	})
}

// span is the hours a usage charge metered.
type span struct{ from, to time.Time }

func (s *Service) splitByNamespace(ctx context.Context, d Draft) (map[string]Draft, error) {
	out := map[string]Draft{}
	byNamespace := map[span]map[string]map[string]usage.Quantity{}
	for _, c := range d.Charges {
		if c.Kind != LineUsage || !c.To.After(c.From) {
			continue
		}
		sp := span{c.From, c.To}
		sums, ok := byNamespace[sp]
		if !ok {
			var err error
			if sums, err = s.usage.NamespaceSums(ctx, d.TenantID, sp.from, sp.to, d.counting); err != nil {
				return nil, err
			}
			byNamespace[sp] = sums
		}
		used := sums[c.Usage.Type.Name]
		namespaces := make([]string, 0, len(used))
		weights := make([]int64, 0, len(used))
		for _, ns := range slices.Sorted(maps.Keys(used)) {
			if used[ns] > 0 {
				namespaces = append(namespaces, ns)
				weights = append(weights, int64(used[ns]))
			}
		}
		amounts := money.Allocate(c.Amount, weights)
		billable := money.Allocate(c.Usage.Billable, weights)
		for i, ns := range namespaces {
			share := c
			share.Usage.Quantity, share.Usage.Billable = used[ns], billable[i]
			share.Usage.Amount, share.Usage.Discount, share.Amount = amounts[i], 0, amounts[i]
			nd, ok := out[ns]
			if !ok {
				nd = Draft{TenantID: d.TenantID, Month: d.Month, Currency: d.Currency, Billable: d.Billable, Closed: d.Closed, counting: d.counting}
			}
			nd.add(share)
			out[ns] = nd
		}
	}
	return out, nil
}

// namespaceDraft is namespace's share of d (see shares): the system
// namespace's is d itself, a namespace that used nothing gets no lines.
func (s *Service) namespaceDraft(ctx context.Context, tenantID uuid.UUID, d Draft, key draftKey, namespace string) (Draft, error) {
	if namespace == tenancy.SystemNamespace {
		return d, nil
	}
	all, err := s.shares(ctx, d, key)
	if err != nil {
		return Draft{}, err
	}
	if share, ok := all[namespace]; ok {
		return share, nil
	}
	return Draft{TenantID: tenantID, Month: d.Month, Currency: d.Currency, Billable: d.Billable, Closed: d.Closed, counting: d.counting}, nil
}
