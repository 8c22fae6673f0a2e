package server

import (
	"net/http"
	"testing"

	"billing-api/gen/api"
)

func TestPlansComeInEveryLocaleAndTheOneAskedFor(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	tok := v.tenant("acme")
	v.setPlan("acme", "TEAM")
	res := v.call(http.MethodGet, "/api/web/namespaces/system/usage_plans/custom_list", tok, nil)
	var list api.PlanListUsagePlansRsp
	res.decode(t, &list)
	if res.Status != http.StatusOK || len(*list.UsagePlans) != 2 {
		t.Fatalf("%d %s", res.Status, res.Body)
	}
	titles := map[string]string{}
	for _, lp := range *list.UsagePlans {
		current := 0
		for _, p := range *lp.Plans {
			if *p.Current {
				current++
				titles[*lp.Locale] = *p.Title
			}
		}
		if current != 1 {
			t.Fatalf("%s: %d current plans", *lp.Locale, current)
		}
	}
	if titles["en-US"] != "Team" || titles["fr-FR"] != "Équipe" {
		t.Fatalf("titles %v", titles)
	}
	current := func(query, acceptLanguage string) (string, string) {
		t.Helper()
		h := authHeader(tok)
		if acceptLanguage != "" {
			h.Set("Accept-Language", acceptLanguage)
		}
		res := v.sr.do(t, v.e, http.MethodGet, "/api/web/namespaces/system/usage_plans/current"+query, nil, h)
		var p api.PlanLocalizedPlan
		res.decode(t, &p)
		if res.Status != http.StatusOK {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		return *p.Locale, *(*p.Plans)[0].Title
	}
	for _, c := range []struct{ query, header, locale, title string }{
		{"", "", "en-US", "Team"},
		{"", "fr-FR,fr;q=0.9,en;q=0.8", "fr-FR", "Équipe"},
		{"", "fr-CA", "fr-FR", "Équipe"},
		{"", "de-DE,de;q=0.9", "en-US", "Team"},
		{"", "not a language", "en-US", "Team"},
		{"?locale=fr-FR", "en-US", "fr-FR", "Équipe"},
	} {
		if loc, title := current(c.query, c.header); loc != c.locale || title != c.title {
			t.Errorf("%q %q: %s %q, want %s %q", c.query, c.header, loc, title, c.locale, c.title)
		}
	}
	if res := v.call(http.MethodGet, "/api/web/namespaces/system/usage_plans/current?locale=fr_FR%20x", tok, nil); res.Status != http.StatusBadRequest {
		t.Fatalf("a malformed locale: %d %s", res.Status, res.Body)
	}
}
