package server

import (
	"net/http"
	"strconv"

	"billing-api/server/quota"
)

// quotaListJSON is a list-quotas response in its default form (no
// report_fields), encoded without reflection. A list carries up to hundreds of
// items, and the generated encoder spent more CPU on them than the query did.
// The bytes are exactly what the generated response type would encode — field
// order, omitted fields, map key order, HTML-safe escaping and the trailing
// newline — which TestQuotaListEncodingMatchesTheGeneratedEncoder checks over
// random objects.
type quotaListJSON []byte

func (b quotaListJSON) VisitListQuotasResponse(w http.ResponseWriter) error { return writeJSON(w, b) }

// appendQuotaList encodes {"errors":[],"items":[...]} for the default list
// form; withStatus adds the empty status_set that report_status_fields asks for.
func appendQuotaList(b []byte, objs []quota.Object, withStatus bool) []byte {
	b = append(b, `{"errors":[],"items":[`...)
	for i := range objs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuotaListItem(b, &objs[i], withStatus)
	}
	return append(b, "]}\n"...)
}

// appendQuotaListItem writes the fields wireListItem fills, in the generated
// struct's order (alphabetical by JSON name).
func appendQuotaListItem(b []byte, o *quota.Object, withStatus bool) []byte {
	b = append(b, '{')
	if o.Annotations != nil {
		b = appendStringMap(append(b, `"annotations":`...), o.Annotations)
		b = append(b, ',')
	}
	if o.Description != nil {
		b = appendJSONString(append(b, `"description":`...), *o.Description)
		b = append(b, ',')
	}
	b = strconv.AppendBool(append(b, `"disabled":`...), o.Disabled)
	if o.Labels != nil {
		b = appendStringMap(append(b, `,"labels":`...), o.Labels)
	}
	b = appendJSONString(append(b, `,"name":`...), o.Name)
	b = appendJSONString(append(b, `,"namespace":`...), o.Namespace)
	if withStatus {
		b = append(b, `,"status_set":[]`...)
	}
	b = appendJSONString(append(b, `,"tenant":`...), o.TenantName)
	b = append(b, `,"uid":"`...)
	b = append(b, o.UID.String()...)
	return append(b, `"}`...)
}
