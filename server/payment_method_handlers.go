package server

import (
	"context"

	"billing-api/gen/api"
	"billing-api/server/fault"
	"billing-api/server/payment"
	"billing-api/server/tenancy"
	"billing-api/store"
)

// wirePayments builds payment methods on the built-in test provider; they
// are counted objects (kind payment_method), created through the quota room
// check.
func wirePayments(a *App) error {
	repo := store.NewPayments(a.DB)
	a.Payments = payment.NewService(repo, a.cfg.PaymentProvider, a.Quotas.CreateCounted, a.Now)
	a.Quotas.CountSystemKind(payment.KindPaymentMethod, repo.CountMethods)
	return nil
}

var roleFromWire = map[api.PaymentMethodPaymentMethodRole]payment.Role{
	api.PAYMENTMETHODROLEUNKNOWN: "", api.PAYMENTMETHODROLENORMAL: payment.RoleNormal,
	api.PAYMENTMETHODROLEPRIMARY: payment.RolePrimary, api.PAYMENTMETHODROLESECONDARY: payment.RoleSecondary,
}

func contactFromWire(c *api.ContactGlobalSpecType) *payment.Contact {
	if c == nil {
		return nil
	}
	return &payment.Contact{
		Type: string(deref(c.ContactType)), Address1: deref(c.Address1), Address2: deref(c.Address2), City: deref(c.City),
		County: deref(c.County), State: deref(c.State), StateCode: deref(c.StateCode), ZipCode: deref(c.ZipCode),
		Country: deref(c.Country), Phone: deref(c.PhoneNumber),
	}
}

// CreatePaymentMethod adds a payment method from a provider token.
func (s *Server) CreatePaymentMethod(ctx context.Context, req api.CreatePaymentMethodRequestObject) (api.CreatePaymentMethodResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.app.Payments.Create(ctx, p, payment.CreateInput{
		Token: req.Body.Token, Role: roleFromWire[deref(req.Body.Role)], Contact: contactFromWire(req.Body.Contact),
	})
	if err != nil {
		return nil, err
	}
	return api.CreatePaymentMethod200JSONResponse{Name: ptr(m.Name)}, nil
}

// checkBodyName refuses a body name that differs from the path's.
func checkBodyName(path string, body *string) error {
	if body != nil && *body != path {
		return fault.InvalidField("name", "match", "must be the path's name "+path+" when given")
	}
	return nil
}

// changeRole runs one of the role operations on the method in the path;
// the body's name, when given, must be the path's.
func (s *Server) changeRole(ctx context.Context, name string, bodyName *string, op func(context.Context, tenancy.Principal, string) error) error {
	p, err := principal(ctx)
	if err != nil {
		return err
	}
	if err := checkBodyName(name, bodyName); err != nil {
		return err
	}
	return op(ctx, p, name)
}

// MakePaymentMethodPrimary gives a method the PRIMARY role.
func (s *Server) MakePaymentMethodPrimary(ctx context.Context, req api.MakePaymentMethodPrimaryRequestObject) (api.MakePaymentMethodPrimaryResponseObject, error) {
	var body *string
	if req.Body != nil {
		body = req.Body.Name
	}
	if err := s.changeRole(ctx, req.Name, body, s.app.Payments.MakePrimary); err != nil {
		return nil, err
	}
	return api.MakePaymentMethodPrimary200JSONResponse{}, nil
}

// MakePaymentMethodSecondary gives a method the SECONDARY role.
func (s *Server) MakePaymentMethodSecondary(ctx context.Context, req api.MakePaymentMethodSecondaryRequestObject) (api.MakePaymentMethodSecondaryResponseObject, error) {
	var body *string
	if req.Body != nil {
		body = req.Body.Name
	}
	if err := s.changeRole(ctx, req.Name, body, s.app.Payments.MakeSecondary); err != nil {
		return nil, err
	}
	return api.MakePaymentMethodSecondary200JSONResponse{}, nil
}

// SwapPaymentMethodRole exchanges the PRIMARY and SECONDARY roles.
func (s *Server) SwapPaymentMethodRole(ctx context.Context, req api.SwapPaymentMethodRoleRequestObject) (api.SwapPaymentMethodRoleResponseObject, error) {
	var body *string
	if req.Body != nil {
		body = req.Body.Name
	}
	if err := s.changeRole(ctx, req.Name, body, s.app.Payments.Swap); err != nil {
		return nil, err
	}
	return api.SwapPaymentMethodRole200JSONResponse{}, nil
}

// DeletePaymentMethod removes a payment method.
func (s *Server) DeletePaymentMethod(ctx context.Context, req api.DeletePaymentMethodRequestObject) (api.DeletePaymentMethodResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.app.Payments.Delete(ctx, p, req.Name); err != nil {
		return nil, err
	}
	return api.DeletePaymentMethod200JSONResponse{}, nil
}
