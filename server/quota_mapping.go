package server

// Field mapping between the tenant API's wire types and the quota domain,
// so the quota handlers only call and translate.

import (
	openapi_types "github.com/oapi-codegen/runtime/types"

	"billing-api/gen/admin"
	"billing-api/gen/api"
	"billing-api/server/quota"
)

// ---- quota objects

// A body without spec decodes to the empty spec: an object with no limits,
// which reads back with `"spec":{}` like any object without limits.

func quotaInputFromCreate(b *api.QuotaCreateRequest) quota.ObjectInput {
	m, s := b.Metadata, b.Spec
	return quotaInput(m.Name, m.Namespace, m.Labels, m.Annotations, m.Description, m.Disable,
		limitsFromWire(s.ObjectLimits, s.ResourceLimits, s.ApiLimits))
}

func quotaInputFromReplace(b *api.QuotaReplaceRequest) quota.ObjectInput {
	m, s := b.Metadata, b.Spec
	return quotaInput(m.Name, m.Namespace, m.Labels, m.Annotations, m.Description, m.Disable,
		limitsFromWire(s.ObjectLimits, s.ResourceLimits, s.ApiLimits))
}

// quotaInput is the part the create and replace bodies share.
func quotaInput(name string, namespace *string, labels, annotations *map[string]string, description *string, disable *bool, spec quota.Limits) quota.ObjectInput {
	return quota.ObjectInput{
		Name: name, Namespace: deref(namespace), Labels: deref(labels), Annotations: deref(annotations),
		Description: description, Disabled: deref(disable), Spec: spec,
	}
}

// limitsFromWire keeps nil for maps the client did not send.
func limitsFromWire(objects *map[string]api.QuotaLimitType, resources *map[string]api.QuotaFloatLimitType, apis *map[string]api.QuotaRateLimitType) quota.Limits {
	return quota.Limits{
		Objects:   mapValues(deref(objects), func(v api.QuotaLimitType) int32 { return v.Maximum }),
		Resources: mapValues(deref(resources), func(v api.QuotaFloatLimitType) float64 { return v.Maximum }),
		APIs: mapValues(deref(apis), func(v api.QuotaRateLimitType) quota.RateLimit {
			return quota.RateLimit{Rate: v.Rate, Unit: quota.Unit(deref(v.Unit)), Burst: v.Burst}
		}),
	}
}

func wireObjectLimits(m map[string]int32) *map[string]api.QuotaLimitType {
	return ptrOrNil(mapValues(m, func(v int32) api.QuotaLimitType { return api.QuotaLimitType{Maximum: v} }))
}

func wireResourceLimits(m map[string]float64) *map[string]api.QuotaFloatLimitType {
	return ptrOrNil(mapValues(m, func(v float64) api.QuotaFloatLimitType { return api.QuotaFloatLimitType{Maximum: v} }))
}

func wireRateLimit(r quota.RateLimit) api.QuotaRateLimitType {
	out := api.QuotaRateLimitType{Rate: r.Rate, Burst: r.Burst}
	if r.Unit != "" {
		out.Unit = ptr(api.RateLimiterRateLimitPeriodUnit(r.Unit))
	}
	return out
}

func wireAPILimits(m map[string]quota.RateLimit) *map[string]api.QuotaRateLimitType {
	return ptrOrNil(mapValues(m, wireRateLimit))
}

func wireSpec(l quota.Limits) *api.SchemaquotaGetSpecType {
	return &api.SchemaquotaGetSpecType{
		ObjectLimits: wireObjectLimits(l.Objects), ResourceLimits: wireResourceLimits(l.Resources), ApiLimits: wireAPILimits(l.APIs),
	}
}

func wireMetadata(o quota.Object) *api.SchemaObjectGetMetaType {
	return &api.SchemaObjectGetMetaType{
		Name: ptr(o.Name), Namespace: ptr(o.Namespace), Labels: ptrOrNil(o.Labels), Annotations: ptrOrNil(o.Annotations),
		Description: o.Description, Disable: ptr(o.Disabled),
	}
}

func wireSystemMetadata(o quota.Object) *api.SchemaSystemObjectGetMetaType {
	return &api.SchemaSystemObjectGetMetaType{
		Uid: ptr(openapi_types.UUID(o.UID)), Tenant: ptr(o.TenantName),
		CreationTimestamp: ptr(o.CreatedAt), ModificationTimestamp: ptr(o.UpdatedAt),
		CreatorId: ptr(o.CreatorID), CreatorClass: ptr(o.CreatorClass),
		ObjectIndex: ptr(int64(0)), Finalizers: &[]string{},
	}
}

func wireCreateForm(o quota.Object) *api.QuotaCreateRequest {
	return &api.QuotaCreateRequest{
		Metadata: api.SchemaObjectCreateMetaType{
			Name: o.Name, Namespace: ptr(o.Namespace), Labels: ptrOrNil(o.Labels), Annotations: ptrOrNil(o.Annotations),
			Description: o.Description, Disable: ptr(o.Disabled),
		},
		Spec: api.SchemaquotaCreateSpecType{
			ObjectLimits: wireObjectLimits(o.Spec.Objects), ResourceLimits: wireResourceLimits(o.Spec.Resources), ApiLimits: wireAPILimits(o.Spec.APIs),
		},
	}
}

func wireReplaceForm(o quota.Object) *api.QuotaReplaceRequest {
	return &api.QuotaReplaceRequest{
		Metadata: api.SchemaObjectReplaceMetaType{
			Name: o.Name, Namespace: ptr(o.Namespace), Labels: ptrOrNil(o.Labels), Annotations: ptrOrNil(o.Annotations),
			Description: o.Description, Disable: ptr(o.Disabled),
		},
		Spec: api.SchemaquotaReplaceSpecType{
			ObjectLimits: wireObjectLimits(o.Spec.Objects), ResourceLimits: wireResourceLimits(o.Spec.Resources), ApiLimits: wireAPILimits(o.Spec.APIs),
		},
	}
}

func wireListItem(o quota.Object, full, status bool) api.QuotaListResponseItem {
	item := api.QuotaListResponseItem{
		Name: ptr(o.Name), Namespace: ptr(o.Namespace), Tenant: ptr(o.TenantName), Uid: ptr(openapi_types.UUID(o.UID)),
		Description: o.Description, Disabled: ptr(o.Disabled), Labels: ptrOrNil(o.Labels), Annotations: ptrOrNil(o.Annotations),
	}
	if full {
		item.Metadata, item.SystemMetadata, item.GetSpec = wireMetadata(o), wireSystemMetadata(o), wireSpec(o.Spec)
	}
	if status {
		item.StatusSet = &[]api.QuotaStatusObject{}
	}
	return item
}

// ---- effective limits and usage

func wireEffectiveLimits(e quota.Effective) api.QuotaGetQuotaLimitsResponse {
	objects := wireObjectLimits(nonNilMap(e.Objects))
	resources := wireResourceLimits(nonNilMap(e.Resources))
	apis := wireAPILimits(nonNilMap(e.APIs))
	return api.QuotaGetQuotaLimitsResponse{
		Objects: objects, Resources: resources, Apis: apis,
		QuotaUsage: objects, FloatQuotaUsage: resources, ApiLimits: apis,
	}
}

func wireUsage(u quota.Usage) api.QuotaGetResponseType {
	objects := map[string]api.QuotaUsageItem{}
	for k, max := range u.Limits.Objects {
		objects[k] = api.QuotaUsageItem{Limit: api.QuotaLimitType{Maximum: max}, Usage: api.UsageUsageType{Current: clamp32(u.Objects[k])}}
	}
	resources := map[string]api.QuotaFloatUsageItem{}
	for k, max := range u.Limits.Resources {
		resources[k] = api.QuotaFloatUsageItem{Limit: api.QuotaFloatLimitType{Maximum: max}, Usage: api.UsageFloatUsageType{Current: u.Resources[k]}}
	}
	apis := map[string]api.QuotaApiUsageItem{}
	for k, r := range u.Limits.APIs {
		apis[k] = api.QuotaApiUsageItem{Limit: wireRateLimit(r), Usage: api.UsageUsageType{Current: clamp32(u.APIs[k])}}
	}
	return api.QuotaGetResponseType{
		Objects: &objects, Resources: &resources, Apis: &apis,
		QuotaUsage: &objects, FloatQuotaUsage: &resources, ApiLimits: &apis,
	}
}

func clamp32(n int64) int32 {
	if n > 1<<31-1 {
		return 1<<31 - 1
	}
	return int32(n)
}

// ---- operator API: limit overrides

// OverridesFromAdmin is the operator API's overrides body as quota limits
// (the CLI reads files in the same shape).
func OverridesFromAdmin(in admin.LimitOverridesInput) quota.Limits {
	return quota.Limits{
		Objects:   mapValues(deref(in.ObjectLimits), func(v admin.ObjectLimit) int32 { return v.Maximum }),
		Resources: mapValues(deref(in.ResourceLimits), func(v admin.ResourceLimit) float64 { return v.Maximum }),
		APIs: mapValues(deref(in.ApiLimits), func(v admin.RateLimit) quota.RateLimit {
			return quota.RateLimit{Rate: v.Rate, Unit: quota.Unit(deref(v.Unit)), Burst: v.Burst}
		}),
	}
}

func adminOverrides(o quota.Overrides) admin.LimitOverrides {
	return admin.LimitOverrides{
		ObjectLimits: nonNilMap(mapValues(o.Limits.Objects, func(v int32) admin.ObjectLimit { return admin.ObjectLimit{Maximum: v} })),
		ResourceLimits: nonNilMap(mapValues(o.Limits.Resources, func(v float64) admin.ResourceLimit {
			return admin.ResourceLimit{Maximum: v}
		})),
		ApiLimits: nonNilMap(mapValues(o.Limits.APIs, func(v quota.RateLimit) admin.RateLimit {
			r := admin.RateLimit{Rate: v.Rate, Burst: v.Burst}
			if v.Unit != "" {
				r.Unit = ptr(admin.RateLimitUnit(v.Unit))
			}
			return r
		})),
		UpdatedAt: o.UpdatedAt,
	}
}
