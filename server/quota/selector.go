package quota

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"billing-api/server/fault"
)

// Selector is a parsed label_filter.
type Selector struct{ s labels.Selector }

// allowedOperators are the selector forms the API documents; the k8s parser
// also knows gt/lt, which label_filter does not offer.
var allowedOperators = map[selection.Operator]bool{
	selection.Equals: true, selection.DoubleEquals: true, selection.NotEquals: true,
	selection.In: true, selection.NotIn: true, selection.Exists: true, selection.DoesNotExist: true,
}

// ParseSelector parses a label_filter with the Kubernetes selector grammar
// (k8s.io/apimachinery): `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
// `a`, `!a`, comma meaning AND. "" selects everything.
func ParseSelector(s string) (Selector, error) {
	sel, err := labels.Parse(s)
	if err != nil {
		return Selector{}, invalidSelector(err.Error())
	}
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if !allowedOperators[r.Operator()] {
			return Selector{}, invalidSelector("operator " + string(r.Operator()) + " is not supported")
		}
	}
	return Selector{s: sel}, nil
}

func invalidSelector(detail string) error {
	return fault.InvalidField("query parameter label_filter", "selector", detail)
}

// Matches reports whether the labels satisfy the selector.
func (s Selector) Matches(l map[string]string) bool {
	if s.s == nil {
		return true
	}
	return s.s.Matches(labels.Set(l))
}
