// Package plan holds the usage-plan catalogue (an embedded YAML file, or one
// the operator supplies, validated at start-up) and each tenant's current
// plan. No HTTP and no SQL here.
package plan

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"

	"billing-api/server/fault"
	"billing-api/server/money"
	"billing-api/server/quota"
	"billing-api/server/usage"
)

//go:embed catalogue.yaml
var embeddedCatalogue []byte

// KnownAddons are the add-on services the API can name (the fields of the
// subscribe request).
var KnownAddons = []string{
	"f5xc_appstack_standard", "f5xc_big_ip_irule_standard", "f5xc_bigip_utilities_standard",
	"f5xc_content_delivery_network_advanced", "f5xc_content_delivery_network_standard",
	"f5xc_delegated_access_standard", "f5xc_securemesh_advanced", "f5xc_securemesh_standard",
	"f5xc_site_management_standard", "f5xc_synthetic_monitoring_standard", "f5xc_waap_advanced",
	"f5xc_waap_standard", "f5xc_web_app_scanning_standard",
}

var (
	planTypes       = []string{"FREE", "INDIVIDUAL", "TEAM", "ORGANIZATION", "PLAN_TYPE_UNSPECIFIED"}
	tenantTypes     = []string{"UNKNOWN", "FREEMIUM", "ENTERPRISE"}
	periodUnits     = []string{"PERIOD_UNKNOWN", "PERIOD_DAY", "PERIOD_WEEK", "PERIOD_MONTH", "PERIOD_YEAR"}
	methods         = []string{"TRANSITION_METHOD_UNSPECIFIED", "TRANSITION_METHOD_SUPPORT", "TRANSITION_METHOD_WIZARD", "TRANSITION_METHOD_RECREATE"}
	requiredFields  = []string{"TRANSITION_REQUIRED_FIELD_PAYMENT_TOKEN", "TRANSITION_REQUIRED_FIELD_DOMAIN", "TRANSITION_REQUIRED_FIELD_CONTACTS"}
	planNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
	localePattern   = regexp.MustCompile(`^[a-z]{2,3}-[A-Z]{2}$`)
)

// Catalogue is the set of plans tenants can be on.
type Catalogue struct {
	// Locale is the catalogue's own language (its texts' and the fallback);
	// Locales lists it first, then every translation's.
	Locale      string
	Locales     []string
	Currency    string
	DefaultPlan string
	Addons      []Addon
	// UsageTypes are the kinds of usage the service meters.
	UsageTypes []usage.Type
	Plans      []Plan
	// Seller issues the invoices; PaymentTermsDays is how many days after
	// its issue an invoice falls due.
	Seller           Seller
	PaymentTermsDays int
}

// Addon is an add-on service a plan may allow. A subscription to it is
// billed Price a calendar month, pro-rated to the part of the month it was
// active; an add-on a plan includes costs nothing on that plan.
type Addon struct {
	Name        string       `yaml:"name"`
	DisplayName string       `yaml:"display_name"`
	Price       money.Amount `yaml:"price"`
}

// Seller is who issues the invoices: a name and address lines.
type Seller struct {
	Name    string   `yaml:"name"`
	Address []string `yaml:"address"`
}

// DefaultPaymentTermsDays is how long an invoice is payable when the
// catalogue does not say.
const DefaultPaymentTermsDays = 14

// Plan is one usage plan.
type Plan struct {
	Name            string
	Title           string
	Subtitle        string
	Description     string
	Type            string
	TenantType      string
	FlatPrice       money.Amount
	BillingDisabled bool
	RenewalPeriod   string
	TrialLength     int32
	TrialUnit       string
	AllowedAddons   []string
	IncludedAddons  []string
	DefaultQuota    quota.Limits
	Transition      Transition
	// Rates prices usage types by name (the rate card); usage of a type
	// without a rate is reported and not billed.
	Rates map[string]usage.Rate
	// Coupons discount every month's bill on the plan.
	Coupons []usage.Coupon
	// Texts are the plan's title, subtitle and description by locale
	// (translations; the catalogue's own locale is in Title and friends).
	Texts map[string]Texts
}

// Texts are a plan's words in one language.
type Texts struct {
	Title       string `yaml:"title"`
	Subtitle    string `yaml:"subtitle"`
	Description string `yaml:"description"`
}

// In returns the plan with its texts in locale (the catalogue's own where a
// translation lacks one).
func (p Plan) In(locale string) Plan {
	if t, ok := p.Texts[locale]; ok {
		p.Title = t.Title
		if t.Subtitle != "" {
			p.Subtitle = t.Subtitle
		}
		if t.Description != "" {
			p.Description = t.Description
		}
	}
	return p
}

// Pricing is what prices usage on plan p.
func (c *Catalogue) Pricing(p Plan) usage.Pricing {
	return usage.Pricing{
		Plan: p.Name, Currency: c.Currency, FlatPrice: p.FlatPrice, BillingDisabled: p.BillingDisabled,
		Rates: p.Rates, Coupons: p.Coupons,
	}
}

// Transition is what moving to the plan takes.
type Transition struct {
	Method                 string
	RequiredFields         []string
	RequiresManualApproval bool
}

// Plan returns the plan named name.
func (c *Catalogue) Plan(name string) (Plan, bool) {
	for _, p := range c.Plans {
		if p.Name == name {
			return p, true
		}
	}
	return Plan{}, false
}

// Addon returns the add-on named name.
func (c *Catalogue) Addon(name string) (Addon, bool) {
	for _, a := range c.Addons {
		if a.Name == name {
			return a, true
		}
	}
	return Addon{}, false
}

// file is the YAML layout of a catalogue.
type file struct {
	Locale      string  `yaml:"locale"`
	Currency    string  `yaml:"currency"`
	DefaultPlan string  `yaml:"default_plan"`
	Addons      []Addon `yaml:"addons"`
	UsageTypes  []struct {
		Name        string `yaml:"name"`
		Service     string `yaml:"service"`
		DisplayName string `yaml:"display_name"`
		Unit        string `yaml:"unit"`
	} `yaml:"usage_types"`
	Plans []planFile `yaml:"plans"`
	// Seller and PaymentTermsDays are the invoices' issuer and terms.
	Seller           *Seller `yaml:"seller"`
	PaymentTermsDays *int    `yaml:"payment_terms_days"`
	// Translations give plan texts in further locales, by plan name.
	Translations map[string]map[string]Texts `yaml:"translations"`
}

// rateFile is one rate of a plan's rate card. Quantities are decimal
// strings (or integers), read exactly.
type rateFile struct {
	BillableUnit string       `yaml:"billable_unit"`
	UnitSize     string       `yaml:"unit_size"`
	Included     string       `yaml:"included"`
	Price        money.Amount `yaml:"price"`
}

type couponFile struct {
	Title  string `yaml:"title"`
	Type   string `yaml:"type"`
	Amount int32  `yaml:"amount"`
}

type planFile struct {
	Name            string       `yaml:"name"`
	Title           string       `yaml:"title"`
	Subtitle        string       `yaml:"subtitle"`
	Description     string       `yaml:"description"`
	Type            string       `yaml:"type"`
	TenantType      string       `yaml:"tenant_type"`
	FlatPrice       money.Amount `yaml:"flat_price"`
	BillingDisabled bool         `yaml:"billing_disabled"`
	RenewalPeriod   string       `yaml:"renewal_period"`
	Trial           struct {
		Length int32  `yaml:"length"`
		Unit   string `yaml:"unit"`
	} `yaml:"trial"`
	AllowedAddons  []string  `yaml:"allowed_addons"`
	IncludedAddons []string  `yaml:"included_addons"`
	DefaultQuota   quotaFile `yaml:"default_quota"`
	Transition     struct {
		Method                 string   `yaml:"method"`
		RequiredFields         []string `yaml:"required_fields"`
		RequiresManualApproval bool     `yaml:"requires_manual_approval"`
	} `yaml:"transition"`
	RateCard map[string]rateFile `yaml:"rate_card"`
	Coupons  []couponFile        `yaml:"coupons"`
}

type quotaFile struct {
	Objects   map[string]int32   `yaml:"objects"`
	Resources map[string]float64 `yaml:"resources"`
	APIs      map[string]struct {
		Rate  int32  `yaml:"rate"`
		Unit  string `yaml:"unit"`
		Burst *int32 `yaml:"burst"`
	} `yaml:"apis"`
}

// Embedded returns the catalogue built into the binary.
func Embedded() (*Catalogue, error) { return Load(embeddedCatalogue) }

// Load parses and validates a catalogue; unknown fields are errors, and the
// error lists every broken rule.
func Load(data []byte) (*Catalogue, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("plan catalogue: %w", err)
	}
	var v fault.Violations
	c := &Catalogue{Locale: f.Locale, Currency: f.Currency, DefaultPlan: f.DefaultPlan, Addons: f.Addons}
	if c.Locale == "" {
		v.Add("locale", "required", "is required")
	}
	if !currencyPattern.MatchString(c.Currency) {
		v.Add("currency", "pattern", "must be an ISO 4217 code such as USD")
	}
	c.checkAddons(&v)
	c.loadTerms(&v, f)
	types := c.loadUsageTypes(&v, f)
	c.loadPlans(&v, f, types)
	c.loadTranslations(&v, f)
	if !slices.ContainsFunc(c.Plans, func(p Plan) bool { return p.Name == c.DefaultPlan }) {
		v.Add("default_plan", "ref", fmt.Sprintf("%q is not one of the plans", c.DefaultPlan))
	}
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("plan catalogue: %w", err)
	}
	return c, nil
}

// checkAddons checks the add-ons: known to the API, listed once, named and
// priced within range.
func (c *Catalogue) checkAddons(v *fault.Violations) {
	seen := map[string]bool{}
	for i, a := range c.Addons {
		field := fmt.Sprintf("addons[%d]", i)
		if !slices.Contains(KnownAddons, a.Name) {
			v.Add(field+".name", "enum", fmt.Sprintf("%q is not an add-on the API can subscribe to", a.Name))
		}
		if seen[a.Name] {
			v.Add(field+".name", "unique", fmt.Sprintf("%q is listed twice", a.Name))
		}
		seen[a.Name] = true
		if a.DisplayName == "" {
			v.Add(field+".display_name", "required", "is required")
		}
		if a.Price < 0 || a.Price > math.MaxInt32 {
			v.Add(field+".price", "range", "must be 0 to 2147483647 minor units of the currency")
		}
	}
}

// loadTerms reads who issues the invoices and how long they are payable,
// defaulting both.
func (c *Catalogue) loadTerms(v *fault.Violations, f file) {
	c.Seller = Seller{Name: "billing-api"}
	if f.Seller != nil {
		c.Seller = *f.Seller
		if c.Seller.Name == "" {
			v.Add("seller.name", "required", "is required")
		}
		if len(c.Seller.Address) > 6 {
			v.Add("seller.address", "maxItems", "at most 6 lines")
		}
	}
	c.PaymentTermsDays = DefaultPaymentTermsDays
	if f.PaymentTermsDays != nil {
		c.PaymentTermsDays = *f.PaymentTermsDays
		if c.PaymentTermsDays < 0 || c.PaymentTermsDays > 365 {
			v.Add("payment_terms_days", "range", "must be 0 to 365 days")
		}
	}
}

// loadUsageTypes reads the usage types, each named once; it returns them by
// name.
func (c *Catalogue) loadUsageTypes(v *fault.Violations, f file) map[string]usage.Type {
	types := map[string]usage.Type{}
	for i, tf := range f.UsageTypes {
		t := usage.Type{Name: tf.Name, Service: tf.Service, DisplayName: tf.DisplayName, Unit: tf.Unit}
		field := fmt.Sprintf("usage_types[%d]", i)
		usage.CheckType(v, field, t)
		if _, dup := types[t.Name]; dup {
			v.Add(field+".name", "unique", fmt.Sprintf("%q is listed twice", t.Name))
		}
		types[t.Name] = t
		c.UsageTypes = append(c.UsageTypes, t)
	}
	return types
}

// loadPlans reads and checks every plan; at least one, each named once.
func (c *Catalogue) loadPlans(v *fault.Violations, f file, types map[string]usage.Type) {
	seen := map[string]bool{}
	for i, pf := range f.Plans {
		field := fmt.Sprintf("plans[%d]", i)
		p := pf.toPlan()
		p.Rates = loadRateCard(v, field, pf.RateCard, types)
		for j, cf := range pf.Coupons {
			cp := usage.Coupon{Title: cf.Title, Kind: usage.DiscountKind(cf.Type), Amount: cf.Amount}
			usage.CheckCoupon(v, fmt.Sprintf("%s.coupons[%d]", field, j), cp)
			p.Coupons = append(p.Coupons, cp)
		}
		if seen[p.Name] {
			v.Add(field+".name", "unique", fmt.Sprintf("%q is listed twice", p.Name))
		}
		seen[p.Name] = true
		c.checkPlan(v, field, p)
		c.Plans = append(c.Plans, p)
	}
	if len(c.Plans) == 0 {
		v.Add("plans", "minItems", "at least one plan is required")
	}
}

// loadRateCard reads a plan's rate card: exact decimal quantities, rates
// of the catalogue's usage types.
func loadRateCard(v *fault.Violations, field string, card map[string]rateFile, types map[string]usage.Type) map[string]usage.Rate {
	rates := map[string]usage.Rate{}
	for name, rf := range card {
		rfield := fmt.Sprintf("%s.rate_card%s", field, fault.Key(name))
		r := usage.Rate{UsageType: name, BillableUnit: rf.BillableUnit, Price: rf.Price}
		var err error
		if r.UnitSize, err = usage.ParseQuantity(rf.UnitSize); err != nil {
			v.Add(rfield+".unit_size", "decimal", err.Error())
		}
		if rf.Included == "" {
			rf.Included = "0"
		}
		if r.Included, err = usage.ParseQuantity(rf.Included); err != nil {
			v.Add(rfield+".included", "decimal", err.Error())
		}
		usage.CheckRate(v, rfield, r, types)
		rates[name] = r
	}
	return rates
}

// checkPlan checks a plan's own fields: its name and title, its enums, its
// price and trial, the add-ons it names and its default quota.
func (c *Catalogue) checkPlan(v *fault.Violations, field string, p Plan) {
	if !planNamePattern.MatchString(p.Name) {
		v.Add(field+".name", "pattern", "must be 1-64 letters, digits, '-' or '_'")
	}
	if p.Title == "" {
		v.Add(field+".title", "required", "is required")
	}
	checkEnum(v, field+".type", p.Type, planTypes)
	checkEnum(v, field+".tenant_type", p.TenantType, tenantTypes)
	checkEnum(v, field+".renewal_period", p.RenewalPeriod, periodUnits)
	checkEnum(v, field+".trial.unit", p.TrialUnit, periodUnits)
	checkEnum(v, field+".transition.method", p.Transition.Method, methods)
	for j, rf := range p.Transition.RequiredFields {
		checkEnum(v, fmt.Sprintf("%s.transition.required_fields[%d]", field, j), rf, requiredFields)
	}
	if p.FlatPrice < 0 || p.FlatPrice > math.MaxInt32 {
		v.Add(field+".flat_price", "range", "must be 0 to 2147483647 minor units of the currency")
	}
	if p.TrialLength < 0 || (p.TrialLength > 0 && p.TrialUnit == "PERIOD_UNKNOWN") {
		v.Add(field+".trial", "range", "length must not be negative, and a trial needs a unit")
	}
	for j, a := range p.AllowedAddons {
		if _, ok := c.Addon(a); !ok {
			v.Add(fmt.Sprintf("%s.allowed_addons[%d]", field, j), "ref", fmt.Sprintf("%q is not in addons", a))
		}
	}
	for j, a := range p.IncludedAddons {
		if !slices.Contains(p.AllowedAddons, a) {
			v.Add(fmt.Sprintf("%s.included_addons[%d]", field, j), "ref", fmt.Sprintf("%q must also be allowed", a))
		}
	}
	if err := quota.ValidateLimits(p.DefaultQuota, field+".default_quota", nil); err != nil {
		var fe *fault.Error
		if errors.As(err, &fe) {
			for _, fld := range fe.Fields {
				v.Add(fld.Field, fld.Rule, fld.Detail)
			}
		}
	}
}

// loadTranslations reads the plans' texts in further locales: each a
// well-formed tag other than the catalogue's own, complete, naming only
// plans of the catalogue.
func (c *Catalogue) loadTranslations(v *fault.Violations, f file) {
	c.Locales = []string{c.Locale}
	for _, loc := range slices.Sorted(maps.Keys(f.Translations)) {
		field := "translations" + fault.Key(loc)
		if !localePattern.MatchString(loc) || loc == c.Locale {
			v.Add(field, "pattern", "must be a BCP 47 tag such as fr-FR, other than the catalogue's own locale")
		}
		c.Locales = append(c.Locales, loc)
		for name, t := range f.Translations[loc] {
			i := slices.IndexFunc(c.Plans, func(p Plan) bool { return p.Name == name })
			if i < 0 {
				v.Add(field+fault.Key(name), "ref", fmt.Sprintf("%q is not one of the plans", name))
				continue
			}
			if t.Title == "" {
				v.Add(field+fault.Key(name)+".title", "required", "is required")
			}
			if c.Plans[i].Texts == nil {
				c.Plans[i].Texts = map[string]Texts{}
			}
			c.Plans[i].Texts[loc] = t
		}
		for _, p := range c.Plans {
			if _, ok := f.Translations[loc][p.Name]; !ok {
				v.Add(field, "complete", fmt.Sprintf("has no texts for plan %q", p.Name))
			}
		}
	}
}

func checkEnum(v *fault.Violations, field, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.Add(field, "enum", fmt.Sprintf("must be one of %v", allowed))
	}
}

func (pf planFile) toPlan() Plan {
	p := Plan{
		Name: pf.Name, Title: pf.Title, Subtitle: pf.Subtitle, Description: pf.Description,
		Type: pf.Type, TenantType: pf.TenantType, FlatPrice: pf.FlatPrice, BillingDisabled: pf.BillingDisabled,
		RenewalPeriod: pf.RenewalPeriod, TrialLength: pf.Trial.Length, TrialUnit: pf.Trial.Unit,
		AllowedAddons: nonNil(pf.AllowedAddons), IncludedAddons: nonNil(pf.IncludedAddons),
		Transition: Transition{
			Method: pf.Transition.Method, RequiredFields: nonNil(pf.Transition.RequiredFields),
			RequiresManualApproval: pf.Transition.RequiresManualApproval,
		},
		DefaultQuota: quota.Limits{Objects: map[string]int32{}, Resources: map[string]float64{}, APIs: map[string]quota.RateLimit{}},
	}
	for k, n := range pf.DefaultQuota.Objects {
		p.DefaultQuota.Objects[k] = n
	}
	for k, a := range pf.DefaultQuota.Resources {
		p.DefaultQuota.Resources[k] = a
	}
	for k, r := range pf.DefaultQuota.APIs {
		p.DefaultQuota.APIs[k] = quota.RateLimit{Rate: r.Rate, Unit: quota.Unit(r.Unit), Burst: r.Burst}
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
