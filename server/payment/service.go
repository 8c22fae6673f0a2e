package payment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"unicode/utf8"

	"github.com/google/uuid"

	"billing-api/server/clock"
	"billing-api/server/fault"
	"billing-api/server/tenancy"
)

// Store is what payment methods need from persistence.
type Store interface {
	WithTx(ctx context.Context, fn func(ctx context.Context) error) error
	// LockTenant serialises one tenant's writers until the transaction ends.
	LockTenant(ctx context.Context, tenantID uuid.UUID) error
	InsertMethod(ctx context.Context, m Method) error
	// GetMethod is fault not found for a missing name.
	GetMethod(ctx context.Context, tenantID uuid.UUID, name string) (Method, error)
	ListMethods(ctx context.Context, tenantID uuid.UUID) ([]Method, error)
	// SetRole gives one method a role; ClearRole makes the holder of a role
	// (if any) NORMAL.
	SetRole(ctx context.Context, tenantID uuid.UUID, name string, role Role) error
	ClearRole(ctx context.Context, tenantID uuid.UUID, role Role) error
	DeleteMethod(ctx context.Context, tenantID uuid.UUID, name string) error
}

// Counted creates objects through the quota room check (the tenant lock,
// the room check and the insert in one transaction).
type Counted func(ctx context.Context, tenantID uuid.UUID, namespace, kind string, n int64, insert func(ctx context.Context) error) error

// Service is the payment-methods domain.
type Service struct {
	store    Store
	provider Provider
	counted  Counted
	now      clock.Clock
	// unpaid, when set, reports an unpaid invoice (the PRIMARY stays).
	unpaid func(ctx context.Context, tenantID uuid.UUID) (bool, error)
}

// NewService wires the domain.
func NewService(store Store, provider Provider, counted Counted, now clock.Clock) *Service {
	return &Service{store: store, provider: provider, counted: counted, now: clock.Normalized(now)}
}

// CreateInput is a new method as a client asks for it.
type CreateInput struct {
	Token string
	Role  Role // "" means NORMAL
	// Contact is the address the method is registered with; nil means the
	// tenant's address on file (AddressOnFile), or none.
	Contact *Contact
}

// Create adds a payment method: the tenant's first becomes PRIMARY whatever
// was asked; asking for PRIMARY or SECONDARY demotes the holder of that role
// to NORMAL. A method given without a contact takes the tenant's address on
// file, read under the tenant's lock, or none when there is none (providers
// take cards without an address). The method counts against the plan's
// payment_method limit.
func (s *Service) Create(ctx context.Context, p tenancy.Principal, in CreateInput) (Method, error) {
	var v fault.Violations
	if err := s.provider.Check(in.Token); err != nil {
		v.Add("token", "provider", err.Error())
	}
	switch in.Role {
	case "", RoleNormal, RolePrimary, RoleSecondary:
	default:
		v.Add("role", "enum", "must be PAYMENT_METHOD_ROLE_PRIMARY, _SECONDARY or _NORMAL")
	}
	if in.Contact != nil {
		CheckContact(&v, "contact", *in.Contact)
	}
	if err := v.Err(); err != nil {
		return Method{}, err
	}
	role := in.Role
	if role == "" {
		role = RoleNormal
	}
	m := Method{
		TenantID: p.TenantID, Name: newName(), Role: role, Token: in.Token, Masked: Mask(in.Token), CreatedAt: s.now(),
	}
	if in.Contact != nil {
		m.Contact = *in.Contact
	}
	err := s.counted(ctx, p.TenantID, tenancy.SystemNamespace, KindPaymentMethod, 1, func(ctx context.Context) error {
		existing, err := s.store.ListMethods(ctx, p.TenantID)
		if err != nil {
			return err
		}
		if len(existing) == 0 {
			m.Role = RolePrimary
		}
		if in.Contact == nil {
			m.Contact, _ = AddressOnFile(existing)
		}
		if m.Role != RoleNormal {
			if err := s.store.ClearRole(ctx, p.TenantID, m.Role); err != nil {
				return err
			}
		}
		return s.store.InsertMethod(ctx, m)
	})
	return m, err
}

// CheckContact checks an address a method is registered with, given at
// field (the request's name for it): it must hold what an invoice's bill-to
// needs (address1, city, zip_code, country).
func CheckContact(v *fault.Violations, field string, c Contact) {
	for name, value := range map[string]string{"address1": c.Address1, "city": c.City, "zip_code": c.ZipCode, "country": c.Country} {
		if value == "" {
			v.Add(field+"."+name, "required", "is required in a billing address")
		} else if !utf8.ValidString(value) {
			v.Add(field+"."+name, "utf8", "must be valid UTF-8")
		}
	}
}

// AddressOnFile is the tenant's billing address on file among its methods:
// the PRIMARY's contact when it has an address, else that of the first
// method (by name) that has one; ok is false when none has. Invoices bill
// to the address found by the same rule (server/invoice's billTo).
func AddressOnFile(methods []Method) (c Contact, ok bool) {
	pick := -1
	for i, m := range methods {
		if m.Contact.Address1 == "" {
			continue
		}
		if m.Role == RolePrimary || pick < 0 {
			pick = i
		}
	}
	if pick < 0 {
		return Contact{}, false
	}
	return methods[pick].Contact, true
}

// newName is a method's generated name: pm- and 12 random hex digits.
func newName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "pm-" + hex.EncodeToString(b)
}

// change runs fn on the named method under the tenant's lock, in one
// transaction (not found when there is no such method).
func (s *Service) change(ctx context.Context, p tenancy.Principal, name string, fn func(ctx context.Context, m Method) error) error {
	return s.store.WithTx(ctx, func(ctx context.Context) error {
		if err := s.store.LockTenant(ctx, p.TenantID); err != nil {
			return err
		}
		m, err := s.store.GetMethod(ctx, p.TenantID, name)
		if err != nil {
			return notFound(err, name)
		}
		return fn(ctx, m)
	})
}

func notFound(err error, name string) error {
	if fault.KindOf(err) == fault.KindNotFound {
		return fault.NotFoundf("payment method %q not found", name)
	}
	return err
}

// MakePrimary gives the method the PRIMARY role; the old primary becomes
// NORMAL (and a SECONDARY made primary leaves the tenant without one).
func (s *Service) MakePrimary(ctx context.Context, p tenancy.Principal, name string) error {
	return s.change(ctx, p, name, func(ctx context.Context, m Method) error {
		if m.Role == RolePrimary {
			return nil
		}
		if err := s.store.ClearRole(ctx, p.TenantID, RolePrimary); err != nil {
			return err
		}
		return s.store.SetRole(ctx, p.TenantID, name, RolePrimary)
	})
}

// MakeSecondary gives the method the SECONDARY role; the old secondary
// becomes NORMAL. The PRIMARY cannot (409: swap instead).
func (s *Service) MakeSecondary(ctx context.Context, p tenancy.Principal, name string) error {
	return s.change(ctx, p, name, func(ctx context.Context, m Method) error {
		switch m.Role {
		case RoleSecondary:
			return nil
		case RolePrimary:
			return fault.Conflictf("payment method %q is the PRIMARY; use swap-primary to exchange the PRIMARY and SECONDARY roles", name)
		}
		if err := s.store.ClearRole(ctx, p.TenantID, RoleSecondary); err != nil {
			return err
		}
		return s.store.SetRole(ctx, p.TenantID, name, RoleSecondary)
	})
}

// Swap exchanges the PRIMARY and SECONDARY roles; the named method must hold
// one of them and the tenant both (409 otherwise). The roles pass through
// NORMAL one at a time, so no instant has two of either.
func (s *Service) Swap(ctx context.Context, p tenancy.Principal, name string) error {
	return s.change(ctx, p, name, func(ctx context.Context, m Method) error {
		if m.Role != RolePrimary && m.Role != RoleSecondary {
			return fault.Conflictf("payment method %q is neither the PRIMARY nor the SECONDARY", name)
		}
		all, err := s.store.ListMethods(ctx, p.TenantID)
		if err != nil {
			return err
		}
		var primary, secondary string
		for _, o := range all {
			switch o.Role {
			case RolePrimary:
				primary = o.Name
			case RoleSecondary:
				secondary = o.Name
			}
		}
		if primary == "" || secondary == "" {
			return fault.Conflictf("swapping needs both a PRIMARY and a SECONDARY payment method; make one %s first",
				map[bool]string{true: "SECONDARY", false: "PRIMARY"}[primary != ""])
		}
		for _, step := range []struct {
			name string
			role Role
		}{{primary, RoleNormal}, {secondary, RolePrimary}, {primary, RoleSecondary}} {
			if err := s.store.SetRole(ctx, p.TenantID, step.name, step.role); err != nil {
				return err
			}
		}
		return nil
	})
}

// BlockPrimaryDeletion makes Delete refuse the PRIMARY method while unpaid
// reports the tenant has an unpaid invoice (invoicing registers it).
func (s *Service) BlockPrimaryDeletion(unpaid func(ctx context.Context, tenantID uuid.UUID) (bool, error)) {
	s.unpaid = unpaid
}

// Delete removes a method. The PRIMARY goes only when it is the last one
// and no invoice is unpaid (409 otherwise, saying what to do).
func (s *Service) Delete(ctx context.Context, p tenancy.Principal, name string) error {
	return s.change(ctx, p, name, func(ctx context.Context, m Method) error {
		if m.Role == RolePrimary && s.unpaid != nil {
			unpaid, err := s.unpaid(ctx, p.TenantID)
			if err != nil {
				return err
			}
			if unpaid {
				return fault.Conflictf("payment method %q is the PRIMARY and the tenant has an unpaid invoice; it stays until the invoice is paid", name)
			}
		}
		if m.Role == RolePrimary {
			all, err := s.store.ListMethods(ctx, p.TenantID)
			if err != nil {
				return err
			}
			if len(all) > 1 {
				return fault.Conflictf("payment method %q is the PRIMARY; make another method PRIMARY before deleting it", name)
			}
		}
		return s.store.DeleteMethod(ctx, p.TenantID, name)
	})
}

// Methods lists the tenant's methods, by name.
func (s *Service) Methods(ctx context.Context, tenantID uuid.UUID) ([]Method, error) {
	return s.store.ListMethods(ctx, tenantID)
}
