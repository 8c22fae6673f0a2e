package server

// Field mapping between the operator API's wire types and the tenancy
// domain.

import (
	openapi_types "github.com/oapi-codegen/runtime/types"

	"billing-api/gen/admin"
	"billing-api/server/tenancy"
)

func adminTenant(t tenancy.Tenant) admin.Tenant {
	return admin.Tenant{Id: openapi_types.UUID(t.ID), Name: t.Name, DisplayName: t.DisplayName, CreatedAt: t.CreatedAt}
}

func adminNamespace(ns tenancy.Namespace) admin.Namespace {
	return admin.Namespace{Name: ns.Name, CreatedAt: ns.CreatedAt}
}

func adminToken(t tenancy.Token) admin.Token {
	return admin.Token{
		Id: openapi_types.UUID(t.ID), Name: t.Name, Role: admin.TokenRole(t.Role), Namespaces: nonNilSlice(t.Namespaces),
		Prefix: t.Prefix, CreatedAt: t.CreatedAt, RevokedAt: t.RevokedAt,
	}
}
