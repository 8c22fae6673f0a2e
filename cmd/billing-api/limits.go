package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"billing-api/gen/admin"
	"billing-api/server"
	"billing-api/server/quota"
)

// newLimitsCommand is `tenant limits`: the operator's limit overrides of a
// tenant, the one way to raise its limits above its plan.
func newLimitsCommand(g *globalConfig) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "limits",
		Short: "Show, set and clear a tenant's limit overrides (its ceiling over the plan)",
		Long: `A tenant's ceiling is its plan's default quota overlaid by the operator's limit
overrides, which may raise or lower any key; the tenant's own quota objects can
only tighten it. Changes hold at once for new requests on every replica within
a second.`,
	}
	var objects, resources, apis []string
	var fromFile string
	show := &cobra.Command{
		Use:   "show TENANT",
		Short: "Show the plan's limits, the overrides and the resulting ceiling",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				return showLimits(ctx, cmd, a, args[0])
			})
		},
	}
	set := &cobra.Command{
		Use:   "set TENANT",
		Short: "Add or change overrides (or replace them all from a JSON file)",
		Example: `  billing-api tenant limits set acme --object http_loadbalancer=50 --resource storage_gib=-1
  billing-api tenant limits set acme --api listQuotas=100/SECOND:200
  billing-api tenant limits set acme --from-file overrides.json   # {"object_limits":{...},"resource_limits":{...},"api_limits":{...}}`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given, err := limitsFromFlags(objects, resources, apis)
			if err != nil {
				return err
			}
			if fromFile != "" && (len(objects)+len(resources)+len(apis) > 0) {
				return fmt.Errorf("--from-file replaces every override; give it alone")
			}
			if fromFile == "" && len(objects)+len(resources)+len(apis) == 0 {
				return fmt.Errorf("nothing to set: give --object, --resource, --api or --from-file")
			}
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				t, err := a.Tenancy.Tenant(ctx, args[0])
				if err != nil {
					return err
				}
				var next quota.Limits
				if fromFile != "" {
					if next, err = limitsFromFile(fromFile); err != nil {
						return err
					}
				} else {
					cur, err := a.Quotas.LimitOverrides(ctx, t.ID)
					if err != nil {
						return err
					}
					next = mergeLimits(cur.Limits, given, a.Quotas.CanonicalAPIKey)
				}
				if _, err := a.Quotas.SetLimitOverrides(ctx, t.ID, next); err != nil {
					return err
				}
				return showLimits(ctx, cmd, a, args[0])
			})
		},
	}
	set.Flags().StringArrayVar(&objects, "object", nil, "KIND=MAXIMUM, an object count limit (-1 = unlimited); repeatable")
	set.Flags().StringArrayVar(&resources, "resource", nil, "NAME=MAXIMUM, a resource amount limit (-1 = unlimited); repeatable")
	set.Flags().StringArrayVar(&apis, "api", nil, "KEY=RATE[/UNIT][:BURST], an API rate limit (unit SECOND, MINUTE, HOUR or DAY); repeatable")
	set.Flags().StringVar(&fromFile, "from-file", "", "replace every override with this JSON file (the operator API's body)")

	var clearObjects, clearResources, clearAPIs []string
	clearCmd := &cobra.Command{
		Use:   "clear TENANT",
		Short: "Remove the given overrides, or all of them when none is named",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withApp(cmd, g, func(ctx context.Context, a *server.App) error {
				t, err := a.Tenancy.Tenant(ctx, args[0])
				if err != nil {
					return err
				}
				if len(clearObjects)+len(clearResources)+len(clearAPIs) == 0 {
					if err := a.Quotas.ClearLimitOverrides(ctx, t.ID); err != nil {
						return err
					}
					return showLimits(ctx, cmd, a, args[0])
				}
				cur, err := a.Quotas.LimitOverrides(ctx, t.ID)
				if err != nil {
					return err
				}
				l := mergeLimits(cur.Limits, quota.Limits{}, a.Quotas.CanonicalAPIKey)
				for _, k := range clearObjects {
					delete(l.Objects, k)
				}
				for _, k := range clearResources {
					delete(l.Resources, k)
				}
				for _, k := range clearAPIs {
					dropAPIKey(l.APIs, k, a.Quotas.CanonicalAPIKey)
				}
				if _, err := a.Quotas.SetLimitOverrides(ctx, t.ID, l); err != nil {
					return err
				}
				return showLimits(ctx, cmd, a, args[0])
			})
		},
	}
	clearCmd.Flags().StringArrayVar(&clearObjects, "object", nil, "an object kind whose override to remove; repeatable")
	clearCmd.Flags().StringArrayVar(&clearResources, "resource", nil, "a resource whose override to remove; repeatable")
	clearCmd.Flags().StringArrayVar(&clearAPIs, "api", nil, "an API key whose override to remove; repeatable")
	cmd.AddCommand(show, set, clearCmd)
	return cmd
}

// showLimits prints, per limit, the plan's value, the override and the
// ceiling they make.
func showLimits(ctx context.Context, cmd *cobra.Command, a *server.App, tenantName string) error {
	t, err := a.Tenancy.Tenant(ctx, tenantName)
	if err != nil {
		return err
	}
	p, err := a.Plans.CurrentPlan(ctx, t.ID)
	if err != nil {
		return err
	}
	over, err := a.Quotas.LimitOverrides(ctx, t.ID)
	if err != nil {
		return err
	}
	ceiling, err := a.Quotas.Ceiling(ctx, t.ID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "tenant %s, plan %s\n", t.Name, p.Name)
	fmt.Fprintln(w, "LIMIT\tPLAN\tOVERRIDE\tCEILING")
	row := func(kind, key string, plan, override, ceil string) {
		fmt.Fprintf(w, "%s[%s]\t%s\t%s\t%s\n", kind, key, plan, override, ceil)
	}
	for _, k := range union(p.DefaultQuota.Objects, over.Limits.Objects) {
		row("object_limits", k, showInt(p.DefaultQuota.Objects, k), showInt(over.Limits.Objects, k), showInt(ceiling.Objects, k))
	}
	for _, k := range union(p.DefaultQuota.Resources, over.Limits.Resources) {
		row("resource_limits", k, showFloat(p.DefaultQuota.Resources, k), showFloat(over.Limits.Resources, k), showFloat(ceiling.Resources, k))
	}
	for _, k := range slices.Sorted(maps.Keys(ceiling.APIs)) {
		plan, override := "-", "-"
		for pk, r := range p.DefaultQuota.APIs {
			if a.Quotas.CanonicalAPIKey(pk) == k {
				plan = showRate(r.Resolved())
			}
		}
		for ok, r := range over.Limits.APIs {
			if a.Quotas.CanonicalAPIKey(ok) == k {
				override = showRate(r.Resolved())
			}
		}
		row("api_limits", k, plan, override, showRate(ceiling.APIs[k]))
	}
	if over.UpdatedAt != nil {
		fmt.Fprintf(w, "overrides set %s\n", over.UpdatedAt.Format("2006-01-02T15:04:05.999999Z07:00"))
	}
	return w.Flush()
}

func union[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func showInt(m map[string]int32, k string) string {
	if v, ok := m[k]; ok {
		return strconv.Itoa(int(v))
	}
	return "-"
}

func showFloat(m map[string]float64, k string) string {
	if v, ok := m[k]; ok {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return "-"
}

func showRate(r quota.RateLimit) string {
	return fmt.Sprintf("%d/%s:%d", r.Rate, r.Unit, *r.Burst)
}

// limitsFromFlags parses --object, --resource and --api values.
func limitsFromFlags(objects, resources, apis []string) (quota.Limits, error) {
	l := quota.Limits{Objects: map[string]int32{}, Resources: map[string]float64{}, APIs: map[string]quota.RateLimit{}}
	for _, s := range objects {
		k, v, ok := strings.Cut(s, "=")
		n, err := strconv.ParseInt(v, 10, 32)
		if !ok || err != nil {
			return l, fmt.Errorf("--object %q: want KIND=MAXIMUM with a whole number", s)
		}
		l.Objects[k] = int32(n)
	}
	for _, s := range resources {
		k, v, ok := strings.Cut(s, "=")
		f, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			return l, fmt.Errorf("--resource %q: want NAME=MAXIMUM with a number", s)
		}
		l.Resources[k] = f
	}
	for _, s := range apis {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return l, fmt.Errorf("--api %q: want KEY=RATE[/UNIT][:BURST]", s)
		}
		r, err := parseRate(v)
		if err != nil {
			return l, fmt.Errorf("--api %q: %w", s, err)
		}
		l.APIs[k] = r
	}
	return l, nil
}

// parseRate reads RATE[/UNIT][:BURST], e.g. 100/SECOND:200.
func parseRate(s string) (quota.RateLimit, error) {
	var r quota.RateLimit
	rest, burst, hasBurst := strings.Cut(s, ":")
	rate, unit, hasUnit := strings.Cut(rest, "/")
	n, err := strconv.ParseInt(rate, 10, 32)
	if err != nil {
		return r, fmt.Errorf("rate %q is not a whole number", rate)
	}
	r.Rate = int32(n)
	if hasUnit {
		r.Unit = quota.Unit(strings.ToUpper(unit))
	}
	if hasBurst {
		b, err := strconv.ParseInt(burst, 10, 32)
		if err != nil {
			return r, fmt.Errorf("burst %q is not a whole number", burst)
		}
		b32 := int32(b)
		r.Burst = &b32
	}
	return r, nil
}

// limitsFromFile reads overrides in the operator API's JSON shape.
func limitsFromFile(path string) (quota.Limits, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return quota.Limits{}, err
	}
	var in admin.LimitOverridesInput
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return quota.Limits{}, fmt.Errorf("%s: %w", path, err)
	}
	return server.OverridesFromAdmin(in), nil
}

// mergeLimits is cur with the keys of given set over it; an API key given
// in one spelling replaces the other spelling of the same operation.
func mergeLimits(cur, given quota.Limits, canonical func(string) string) quota.Limits {
	out := quota.Limits{Objects: maps.Clone(cur.Objects), Resources: maps.Clone(cur.Resources), APIs: maps.Clone(cur.APIs)}
	if out.Objects == nil {
		out.Objects = map[string]int32{}
	}
	if out.Resources == nil {
		out.Resources = map[string]float64{}
	}
	if out.APIs == nil {
		out.APIs = map[string]quota.RateLimit{}
	}
	maps.Copy(out.Objects, given.Objects)
	maps.Copy(out.Resources, given.Resources)
	for k, r := range given.APIs {
		dropAPIKey(out.APIs, k, canonical)
		out.APIs[k] = r
	}
	return out
}

// dropAPIKey removes key from m in either spelling.
func dropAPIKey(m map[string]quota.RateLimit, key string, canonical func(string) string) {
	for k := range m {
		if canonical(k) == canonical(key) {
			delete(m, k)
		}
	}
}
