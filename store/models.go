package store

import (
	"time"

	"github.com/google/uuid"
)

// Models mirror the tables created by the migrations; they are persistence
// shapes only and are mapped to domain types at the repository boundary.

type tenantRow struct {
	ID          uuid.UUID
	Name        string
	DisplayName string
	CreatedAt   time.Time
}

func (tenantRow) TableName() string { return "tenants" }

type namespaceRow struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	Name      string    `gorm:"primaryKey"`
	CreatedAt time.Time
}

func (namespaceRow) TableName() string { return "namespaces" }

type apiTokenRow struct {
	ID         uuid.UUID
	TenantID   uuid.UUID
	Name       string
	Role       string
	Namespaces []string `gorm:"serializer:json"`
	SecretHash string
	Prefix     string
	CreatedAt  time.Time
	RevokedAt  *time.Time
	// TenantName is filled only by queries that join tenants.
	TenantName string `gorm:"->"`
}

func (apiTokenRow) TableName() string { return "api_tokens" }
