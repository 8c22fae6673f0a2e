package server

import (
	"context"

	"github.com/labstack/echo/v4"
	"golang.org/x/text/language"
)

type localeKey struct{}

// localePreference puts the client's Accept-Language into the request's
// context, for the operations that answer in a language
// (usage_plans/current, whose `locale` parameter comes first).
func localePreference(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if pref := req.Header.Get("Accept-Language"); pref != "" {
			c.SetRequest(req.WithContext(context.WithValue(req.Context(), localeKey{}, pref)))
		}
		return next(c)
	}
}

// chooseLocale picks the best of the offered locales (the first is the
// fallback) for explicit (a BCP 47 tag, when given) or else the
// Accept-Language in ctx; anything unparsable or unmatched gets the fallback.
func chooseLocale(ctx context.Context, explicit *string, offered []string) string {
	pref, _ := ctx.Value(localeKey{}).(string)
	if explicit != nil {
		pref = *explicit
	}
	if pref == "" || len(offered) == 0 {
		return offered[0]
	}
	wanted, _, err := language.ParseAcceptLanguage(pref)
	if err != nil || len(wanted) == 0 {
		return offered[0]
	}
	tags := make([]language.Tag, len(offered))
	for i, o := range offered {
		tags[i] = language.Make(o)
	}
	_, i, conf := language.NewMatcher(tags).Match(wanted...)
	if conf == language.No {
		return offered[0]
	}
	return offered[i]
}
