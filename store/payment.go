package store

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"billing-api/server/fault"
	"billing-api/server/payment"
)

// Payments is the payment-methods repository.
type Payments struct{ db *DB }

// NewPayments returns the repository.
func NewPayments(db *DB) *Payments { return &Payments{db: db} }

// WithTx runs fn in one transaction.
func (r *Payments) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.db.WithTx(ctx, fn)
}

// LockTenant serialises the tenant's writers (see DB.LockTenant).
func (r *Payments) LockTenant(ctx context.Context, tenantID uuid.UUID) error {
	return r.db.LockTenant(ctx, tenantID)
}

type contactJSON struct {
	Type      string `json:"contact_type,omitempty"`
	Address1  string `json:"address1,omitempty"`
	Address2  string `json:"address2,omitempty"`
	City      string `json:"city,omitempty"`
	County    string `json:"county,omitempty"`
	State     string `json:"state,omitempty"`
	StateCode string `json:"state_code,omitempty"`
	ZipCode   string `json:"zip_code,omitempty"`
	Country   string `json:"country,omitempty"`
	Phone     string `json:"phone_number,omitempty"`
}

// InsertMethod stores a new method (a duplicate name is a conflict).
func (r *Payments) InsertMethod(ctx context.Context, m payment.Method) error {
	c := m.Contact
	contact, err := json.Marshal(contactJSON{c.Type, c.Address1, c.Address2, c.City, c.County, c.State, c.StateCode, c.ZipCode, c.Country, c.Phone})
	if err != nil {
		return fault.Internal(err)
	}
	_, err = r.db.exec(ctx, "INSERT INTO payment_methods (tenant_id, name, role, token, masked, contact, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		r.db.id(m.TenantID), m.Name, string(m.Role), m.Token, m.Masked, string(contact), m.CreatedAt.UTC())
	return err
}

const methodColumns = "name, role, token, masked, contact, created_at"

func scanMethod(tenantID uuid.UUID, scan func(dest ...any) error) (payment.Method, error) {
	m := payment.Method{TenantID: tenantID}
	var role string
	var contact []byte
	if err := scan(&m.Name, &role, &m.Token, &m.Masked, &contact, &m.CreatedAt); err != nil {
		return m, classify(err)
	}
	var c contactJSON
	if err := json.Unmarshal(contact, &c); err != nil {
		return m, fault.Internal(err)
	}
	m.Role, m.CreatedAt = payment.Role(role), m.CreatedAt.UTC()
	m.Contact = payment.Contact{Type: c.Type, Address1: c.Address1, Address2: c.Address2, City: c.City, County: c.County,
		State: c.State, StateCode: c.StateCode, ZipCode: c.ZipCode, Country: c.Country, Phone: c.Phone}
	return m, nil
}

// GetMethod reads one method (not found if missing).
func (r *Payments) GetMethod(ctx context.Context, tenantID uuid.UUID, name string) (payment.Method, error) {
	rows, err := r.db.query(ctx, "SELECT "+methodColumns+" FROM payment_methods WHERE tenant_id = $1 AND name = $2", r.db.id(tenantID), name)
	if err != nil {
		return payment.Method{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return payment.Method{}, classify(err)
		}
		return payment.Method{}, &fault.Error{Kind: fault.KindNotFound, Message: "not found"}
	}
	return scanMethod(tenantID, rows.Scan)
}

// ListMethods returns the tenant's methods by name.
func (r *Payments) ListMethods(ctx context.Context, tenantID uuid.UUID) ([]payment.Method, error) {
	rows, err := r.db.query(ctx, "SELECT "+methodColumns+" FROM payment_methods WHERE tenant_id = $1 ORDER BY name", r.db.id(tenantID))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []payment.Method
	for rows.Next() {
		m, err := scanMethod(tenantID, rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, classify(rows.Err())
}

// SetRole gives the named method a role.
func (r *Payments) SetRole(ctx context.Context, tenantID uuid.UUID, name string, role payment.Role) error {
	_, err := r.db.exec(ctx, "UPDATE payment_methods SET role = $1 WHERE tenant_id = $2 AND name = $3", string(role), r.db.id(tenantID), name)
	return err
}

// ClearRole makes the holder of role NORMAL.
func (r *Payments) ClearRole(ctx context.Context, tenantID uuid.UUID, role payment.Role) error {
	_, err := r.db.exec(ctx, "UPDATE payment_methods SET role = 'NORMAL' WHERE tenant_id = $1 AND role = $2", r.db.id(tenantID), string(role))
	return err
}

// DeleteMethod removes a method.
func (r *Payments) DeleteMethod(ctx context.Context, tenantID uuid.UUID, name string) error {
	_, err := r.db.exec(ctx, "DELETE FROM payment_methods WHERE tenant_id = $1 AND name = $2", r.db.id(tenantID), name)
	return err
}

// CountMethods counts the tenant's methods (the quota counter of
// payment_method, registered as a system-namespace kind).
func (r *Payments) CountMethods(ctx context.Context, tenantID uuid.UUID, _ string) (int64, error) {
	return r.db.count(ctx, "SELECT COUNT(*) FROM payment_methods WHERE tenant_id = $1", r.db.id(tenantID))
}
