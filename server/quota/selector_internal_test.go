package quota

import (
	"errors"
	"slices"
	"strings"
	"testing"

	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"billing-api/server/fault"
)

// FuzzParseSelector feeds label_filter text to the parser. Whatever the
// text: no panic; a refusal is the one invalid-input error naming
// label_filter (a 400, never a 500); an accepted selector uses only the
// documented operators and matches label sets exactly as its requirements
// say, checked against a model of each operator's meaning.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		"", "team", "!team", "team=web", "team==web", "team!=web", "env in (prod,dev)", "env notin (prod)",
		"team=web,env=dev", "missing!=x", "app.kubernetes.io/name=web", "example.com/team in (a,b,c)",
		"team in ()", "env gt 3", "env<3", "env>3", "(", "a in (b", "a=b,", ",", "a==", "a!=", "=b",
		"a=b=c", "a in (b,,c)", "a notin b", "!a=b", "!!a", "a,a=b,!a", "  team  =  web  ",
		"a=" + strings.Repeat("v", 64), strings.Repeat("k", 64) + "=v", "a=-b", "a=b-", "a/b/c=d",
		"team=w\u00e9b", "team=web\x00", "team=\xff", "a in (b) , c notin (d,e) , f , !g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			var fe *fault.Error
			if !errors.Is(err, fault.ErrInvalid) || !errors.As(err, &fe) || len(fe.Fields) != 1 || fe.Fields[0].Field != "query parameter label_filter" {
				t.Fatalf("%q: refused with %#v, want one invalid label_filter field", s, err)
			}
			return
		}
		if sel.s == nil {
			t.Fatalf("%q: accepted without a selector", s)
		}
		reqs, _ := sel.s.Requirements()
		for _, r := range reqs {
			if !allowedOperators[r.Operator()] {
				t.Fatalf("%q: accepted the undocumented operator %s", s, r.Operator())
			}
		}
		for _, labels := range labelSetsFor(reqs) {
			want := true
			for _, r := range reqs {
				want = want && modelMatches(r.Operator(), r.Key(), r.ValuesUnsorted(), labels)
			}
			if got := sel.Matches(labels); got != want {
				t.Fatalf("%q on %v: matched %v, the operators' meaning says %v", s, labels, got, want)
			}
		}
	})
}

// modelMatches is what label_filter documents for one requirement.
func modelMatches(op selection.Operator, key string, values []string, labels map[string]string) bool {
	v, has := labels[key]
	switch op {
	case selection.Equals, selection.DoubleEquals, selection.In:
		return has && slices.Contains(values, v)
	case selection.NotEquals, selection.NotIn:
		return !has || !slices.Contains(values, v)
	case selection.Exists:
		return has
	case selection.DoesNotExist:
		return !has
	}
	return false
}

// labelSetsFor builds label sets around the requirements' own keys and
// values, so that matching and failing both happen: none of the keys, all
// of them with each requirement's first value, with an unrelated value, and
// every other key left out.
func labelSetsFor(reqs []k8slabels.Requirement) []map[string]string {
	sets := []map[string]string{{}, {}, {}, {}, {}}
	for i, r := range reqs {
		first := "zz-unrelated"
		if vs := r.ValuesUnsorted(); len(vs) > 0 {
			first = vs[0]
		}
		sets[1][r.Key()] = first
		sets[2][r.Key()] = "zz-unrelated"
		if i%2 == 0 {
			sets[3][r.Key()] = first
		} else {
			sets[4][r.Key()] = first
		}
	}
	return sets
}
