package server

import (
	"net/http"

	"billing-api/server/usage"
)

// usageDetailsJSON is a usage_details response encoded without reflection:
// a tenant's lines run to hundreds, each with two timestamps and a signed
// query, and the generated encoder spent more CPU on them than everything
// else the request did. The bytes are exactly the generated response
// type's (TestUsageDetailsEncodingMatchesTheGeneratedEncoder).
type usageDetailsJSON []byte

func (b usageDetailsJSON) VisitListUsageDetailsResponse(w http.ResponseWriter) error {
	return writeJSON(w, b)
}

// appendUsageDetails encodes {"usage_items":[...]} with the fields
// wireDetailLine fills, in the generated struct's (alphabetical) order.
func appendUsageDetails(b []byte, lines []usage.DetailLine) []byte {
	b = append(b, `{"usage_items":[`...)
	for i := range lines {
		l := &lines[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONTime(append(b, `{"end_timestamp":`...), l.Window.To)
		b = appendJSONString(append(b, `,"hourly_breakdown_query":`...), l.Query)
		b = append(b, `,"metric_label":`...)
		b = appendJSONString(b, l.Namespace+"/"+l.UsageType+"/"+l.ObjectName)
		b = appendJSONString(append(b, `,"namespace":`...), l.Namespace)
		b = appendJSONString(append(b, `,"object_name":`...), l.ObjectName)
		b = appendJSONFloat(append(b, `,"quantity":`...), l.Quantity.Units())
		b = appendJSONTime(append(b, `,"start_timestamp":`...), l.Window.From)
		b = appendJSONString(append(b, `,"unit_name":`...), l.Unit)
		b = appendJSONString(append(b, `,"usage_type":`...), l.UsageType)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}
