// Package invoice closes billing periods: once a calendar month has ended it
// issues each billed tenant one immutable invoice (the plan's flat price
// pro-rated over the plans the tenant was on, priced usage from the
// rollups, add-ons, coupons), collects it from the PRIMARY payment method
// and then the SECONDARY, and serves the list and the PDF. The operator
// retries collection, records external payments, refunds and cancels. No
// HTTP and no SQL here.
package invoice

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"billing-api/server/cache"
	"billing-api/server/clock"
	"billing-api/server/money"
	"billing-api/server/payment"
	"billing-api/server/period"
	"billing-api/server/plan"
	"billing-api/server/subscription"
	"billing-api/server/tenancy"
	"billing-api/server/usage"
)

// Status is where an invoice stands. ISSUED, PAID, REFUNDED and CANCELLED
// are stored; PENDING (a month not closed yet) and OVERDUE (ISSUED past its
// due date) are derived when the invoice is read.
type Status string

const (
	StatusPending   Status = "PENDING"
	StatusIssued    Status = "ISSUED"
	StatusOverdue   Status = "OVERDUE"
	StatusPaid      Status = "PAID"
	StatusRefunded  Status = "REFUNDED"
	StatusCancelled Status = "CANCELLED"
)

// LineKind is what an invoice line bills.
type LineKind string

const (
	LinePlan     LineKind = "PLAN"
	LineUsage    LineKind = "USAGE"
	LineAddon    LineKind = "ADDON"
	LineDiscount LineKind = "DISCOUNT"
)

// Line is one item of an invoice as printed; a discount line's amount is
// negative.
type Line struct {
	Kind        LineKind
	Description string
	// Quantity is preformatted ("0.709677 month", "9 × 1M requests").
	Quantity  string
	UnitPrice money.Amount
	Amount    money.Amount
}

// Party is a seller or a customer billed: a name and address lines.
type Party struct {
	Name  string   `json:"name"`
	Lines []string `json:"lines,omitempty"`
}

// Invoice is an issued invoice. Everything but the status fields is fixed
// when it is issued (the database refuses changes).
type Invoice struct {
	TenantID uuid.UUID
	ID       uuid.UUID
	// Seq numbers the tenant's invoices from 1; Number is the readable form.
	Seq      int64
	Number   string
	Period   period.Month
	Currency string
	// Subtotal is the sum of the positive lines, Discount of the discount
	// lines (as a positive amount), Total = Subtotal − Discount.
	Subtotal, Discount, Total money.Amount
	IssuedAt, DueAt           time.Time
	Seller, BillTo            Party
	Lines                     []Line

	// Status is the stored status (ISSUED, PAID, REFUNDED or CANCELLED),
	// StatusSince when it was set and StatusReason why.
	Status       Status
	StatusSince  time.Time
	StatusReason string
	// Round counts the collection rounds started; Collecting is true while
	// one is unfinished (a crash leaves it so, and a replayed close or a
	// retry resumes it with the same idempotency keys).
	Round      int
	Collecting bool
}

// StatusAt is the invoice's status at now: an ISSUED invoice past its due
// date is OVERDUE.
func (inv Invoice) StatusAt(now time.Time) Status {
	if inv.Status == StatusIssued && !now.Before(inv.DueAt) {
		return StatusOverdue
	}
	return inv.Status
}

// NumberFor is the readable number of a tenant's seq-th invoice, for month
// m: INV-2026-10-000007.
func NumberFor(m period.Month, seq int64) string {
	return fmt.Sprintf("INV-%s-%06d", m, seq)
}

// pendingPrefix starts the name the list gives a month not yet invoiced.
const pendingPrefix = "pending-"

// PendingName is the name the list gives month m while it is not invoiced:
// pending-2026-11.
func PendingName(m period.Month) string { return pendingPrefix + m.String() }

// pendingMonth reads the month a PendingName names.
func pendingMonth(name string) (period.Month, bool) {
	rest, ok := strings.CutPrefix(name, pendingPrefix)
	if !ok {
		return period.Month{}, false
	}
	m, err := period.Parse(rest)
	return m, err == nil && PendingName(m) == name
}

// PaymentKind is what a payment record is.
type PaymentKind string

const (
	PaymentCharge   PaymentKind = "CHARGE"
	PaymentExternal PaymentKind = "EXTERNAL"
	PaymentRefund   PaymentKind = "REFUND"
)

// Outcome is how a payment attempt ended (PENDING while it is under way, or
// when the process stopped before the provider answered).
type Outcome string

const (
	OutcomePending   Outcome = "PENDING"
	OutcomeSucceeded Outcome = "SUCCEEDED"
	OutcomeDeclined  Outcome = "DECLINED"
)

// Payment is one charge attempt, external payment or refund of an invoice.
// IdempotencyKey is what the provider is called with: a call repeated with
// it moves money once.
type Payment struct {
	TenantID       uuid.UUID
	InvoiceID      uuid.UUID
	IdempotencyKey string
	Kind           PaymentKind
	Round          int
	MethodName     string
	MethodRole     payment.Role
	// Token is the provider token charged (never shown).
	Token      string
	Amount     money.Amount
	Outcome    Outcome
	Reference  string
	Detail     string
	CreatedAt  time.Time
	FinishedAt *time.Time
}

// Run is the record of closing one period in the background: who started
// it and when, and when every tenant was closed.
type Run struct {
	Period period.Month
	// Owner is the replica that started the close.
	Owner      string
	StartedAt  time.Time
	FinishedAt *time.Time
	Issued     int
	Failed     int
}

// Filter selects invoices for the operator.
type Filter struct {
	TenantID *uuid.UUID
	Period   *period.Month
	// Status selects by status as read at Now (OVERDUE: ISSUED and due).
	Status Status
	Now    time.Time
	Limit  int
}

// Store is what invoicing needs from persistence.
type Store interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
	// LockTenant holds the tenant exclusively until the transaction ends:
	// ingestion (which holds it shared) waits, so a record is either in the
	// invoice or flagged late.
	LockTenant(ctx context.Context, tenantID uuid.UUID) error
	// InvoiceForPeriod returns the tenant's invoice for month m.
	InvoiceForPeriod(ctx context.Context, tenantID uuid.UUID, m period.Month) (Invoice, bool, error)
	LastSeq(ctx context.Context, tenantID uuid.UUID) (int64, error)
	// InsertInvoice stores an invoice and its lines; a second invoice for
	// the same tenant and period is a conflict (a unique index).
	InsertInvoice(ctx context.Context, inv Invoice) error
	// InvoiceByNumber reads an invoice with its lines (not found if none).
	InvoiceByNumber(ctx context.Context, tenantID uuid.UUID, number string) (Invoice, error)
	// ListInvoices returns the tenant's invoices, newest period first, with
	// only what a list shows: the number, the period, the currency, the
	// total, the stored status and the due date.
	ListInvoices(ctx context.Context, tenantID uuid.UUID) ([]Invoice, error)
	// FindInvoices returns invoices of any tenant for the operator.
	FindInvoices(ctx context.Context, f Filter) ([]Invoice, error)
	// HasUnpaid reports whether the tenant has an ISSUED invoice.
	HasUnpaid(ctx context.Context, tenantID uuid.UUID) (bool, error)

	// Payments returns an invoice's payment records, oldest first.
	Payments(ctx context.Context, tenantID, invoiceID uuid.UUID) ([]Payment, error)
	// InsertPayment stores a payment record unless one with its key exists;
	// it reports whether it stored it.
	InsertPayment(ctx context.Context, p Payment) (bool, error)
	// FinishPayment records a pending payment's outcome.
	FinishPayment(ctx context.Context, tenantID uuid.UUID, key string, outcome Outcome, reference, detail string, at time.Time) error

	// SetStatus moves the invoice from one of from to to (compare and set);
	// with idle, only while no collection round is under way. It reports
	// whether the invoice moved.
	SetStatus(ctx context.Context, tenantID, id uuid.UUID, from []Status, idle bool, to Status, at time.Time, reason string) (bool, error)
	// StartRound starts collection round round (the invoice must be ISSUED,
	// idle and on round-1); it reports whether it did.
	StartRound(ctx context.Context, tenantID, id uuid.UUID, round int) (bool, error)
	// EndRound ends the round under way.
	EndRound(ctx context.Context, tenantID, id uuid.UUID, round int) error

	// StartRun records that closing month m started (once: a run already
	// recorded keeps its owner and start).
	StartRun(ctx context.Context, m period.Month, owner string, at time.Time) error
	// FinishRun records an unfinished run's counts; done marks it finished.
	FinishRun(ctx context.Context, m period.Month, at time.Time, issued, failed int, done bool) error
	// IssuedFor counts the invoices of month m, of every tenant.
	IssuedFor(ctx context.Context, m period.Month) (int, error)
	// Collecting returns the invoices, of any tenant, whose collection
	// round is unfinished.
	Collecting(ctx context.Context) ([]Invoice, error)
	// FinishedRuns returns the months of the finished runs in [from, to].
	FinishedRuns(ctx context.Context, from, to period.Month) ([]period.Month, error)
	// Runs returns the runs, newest first.
	Runs(ctx context.Context, limit int) ([]Run, error)
}

// Plans is what invoicing reads about plans.
type Plans interface {
	Catalogue() *plan.Catalogue
	History(ctx context.Context, tenantID uuid.UUID, from, to time.Time) ([]plan.Assignment, error)
}

// Usage is what invoicing reads about usage.
type Usage interface {
	Types() map[string]usage.Type
	Sums(ctx context.Context, tenantID uuid.UUID, from, to time.Time, c usage.Counting) (map[string]usage.Quantity, error)
	NamespaceSums(ctx context.Context, tenantID uuid.UUID, from, to time.Time, c usage.Counting) (map[string]map[string]usage.Quantity, error)
	Late(ctx context.Context, tenantID uuid.UUID, m period.Month) (map[string]usage.Quantity, error)
}

// Subscriptions lists a tenant's add-on subscriptions, cancelled ones too.
type Subscriptions interface {
	All(ctx context.Context, tenantID uuid.UUID) ([]subscription.Subscription, error)
}

// Methods lists a tenant's payment methods.
type Methods interface {
	Methods(ctx context.Context, tenantID uuid.UUID) ([]payment.Method, error)
}

// Tenants finds tenants.
type Tenants interface {
	Tenant(ctx context.Context, name string) (tenancy.Tenant, error)
	ListTenants(ctx context.Context) ([]tenancy.Tenant, error)
}

// Config wires a Service.
type Config struct {
	Store Store
	// Closings records the months invoicing settles (and tells which are).
	Closings      *period.Closings
	Plans         Plans
	Usage         Usage
	Subscriptions Subscriptions
	Methods       Methods
	Tenants       Tenants
	Provider      payment.Provider
	Now           clock.Clock
	// Grace is how long after a month ends the scheduler waits before
	// closing it, so usage that arrives late is still billed in its own
	// month (default 48 h).
	Grace time.Duration
	// Owner names this replica in the scheduler's runs.
	Owner string
	// CacheTTL bounds how long the running month's pending invoice is
	// reused (default 1 s); this replica drops it at once when the
	// tenant's usage, plan or add-ons change here.
	CacheTTL time.Duration
}

// DefaultGrace is the scheduler's default grace period.
const DefaultGrace = 48 * time.Hour

// Service is the invoicing domain.
type Service struct {
	store    Store
	closings *period.Closings
	plans    Plans
	usage    Usage
	subs     Subscriptions
	methods  Methods
	tenants  Tenants
	provider payment.Provider
	now      clock.Clock
	grace    time.Duration
	owner    string
	drafts   *cache.Cache[draftKey, Draft]
	// shareCache holds, per draft, its namespaces' shares (see shares).
	shareCache *cache.Cache[draftKey, map[string]Draft]
	// later queues collection work (see SetLater); nil in processes that
	// run no background work.
	later Later
	// issued caches each tenant's issued invoices, newest first, without
	// lines: what the list, subscription periods and monthly totals read.
	// Only the operator's side (closing, collecting, the operator's moves)
	// changes them, and it drops the tenant's entry at once where it runs.
	issued *cache.Cache[uuid.UUID, []Invoice]
}

// draftKey names a draft: the tenant, the month and the window of it whose
// usage is metered (the whole month for what its invoice bills).
type draftKey struct {
	tenant   uuid.UUID
	month    period.Month
	from, to int64
}

func (k draftKey) String() string {
	return k.tenant.String() + "/" + k.month.String() + "/" + strconv.FormatInt(k.from, 10) + "-" + strconv.FormatInt(k.to, 10)
}

// NewService checks cfg and returns the service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Closings == nil || cfg.Plans == nil || cfg.Usage == nil || cfg.Subscriptions == nil ||
		cfg.Methods == nil || cfg.Tenants == nil || cfg.Provider == nil {
		return nil, errors.New("invoice: Store, Closings, Plans, Usage, Subscriptions, Methods, Tenants and Provider are required")
	}
	s := &Service{
		store: cfg.Store, closings: cfg.Closings, plans: cfg.Plans, usage: cfg.Usage, subs: cfg.Subscriptions, methods: cfg.Methods,
		tenants: cfg.Tenants, provider: cfg.Provider, now: clock.Normalized(cfg.Now), grace: cfg.Grace, owner: cfg.Owner,
	}
	if s.grace <= 0 {
		s.grace = DefaultGrace
	}
	if s.owner == "" {
		s.owner = uuid.NewString()
	}
	ttl := cfg.CacheTTL
	if ttl <= 0 {
		ttl = time.Second
	}
	s.issued = cache.New[uuid.UUID, []Invoice](ttl, s.now, uuid.UUID.String)
	s.drafts = cache.New[draftKey, Draft](ttl, s.now, draftKey.String)
	s.shareCache = cache.New[draftKey, map[string]Draft](ttl, s.now, draftKey.String)
	return s, nil
}

// Later is how invoicing asks for work to be done in the background: the
// job engine (server/jobs) implements it.
type Later interface {
	// Collect queues the collection of an invoice's current round. Called
	// inside a store transaction, the job is stored in it: it exists if and
	// only if the change that calls for it commits.
	Collect(ctx context.Context, inv Invoice) error
}

// SetLater connects the job engine; without it, collections run only where
// they are started and are resumed by RunDue.
func (s *Service) SetLater(l Later) { s.later = l }

// Invalidate drops what this replica derived from the tenants' usage, plan,
// add-ons or invoices (their pending and issued invoices).
func (s *Service) Invalidate(ids ...uuid.UUID) {
	set := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	s.drafts.InvalidateWhere(func(k draftKey, _ Draft) bool { return set[k.tenant] })
	s.shareCache.InvalidateWhere(func(k draftKey, _ map[string]Draft) bool { return set[k.tenant] })
	for id := range set {
		s.issued.Invalidate(id)
	}
}

// HasUnpaid reports whether the tenant has an invoice still to be paid (its
// PRIMARY payment method may not go meanwhile).
func (s *Service) HasUnpaid(ctx context.Context, tenantID uuid.UUID) (bool, error) {
	return s.store.HasUnpaid(ctx, tenantID)
}
