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
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
}

func (tenantRow) TableName() string { return "tenants" }

type namespaceRow struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	Name      string    `gorm:"primaryKey"`
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
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
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	RevokedAt  *time.Time
	// TenantName is filled only by queries that join tenants.
	TenantName string `gorm:"->"`
}

func (apiTokenRow) TableName() string { return "api_tokens" }

type quotaObjectRow struct {
	UID          uuid.UUID `gorm:"primaryKey"`
	TenantID     uuid.UUID
	Namespace    string
	Name         string
	Labels       *map[string]string `gorm:"serializer:json"`
	Annotations  *map[string]string `gorm:"serializer:json"`
	Description  *string
	Disabled     bool
	Spec         specJSON `gorm:"serializer:json"`
	CreatorID    string
	CreatorClass string
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
}

func (quotaObjectRow) TableName() string { return "quota_objects" }

// specJSON is the stored shape of a quota spec: pointers keep "not sent"
// apart from "empty" so an object reads back exactly as written.
type specJSON struct {
	Objects   *map[string]int32         `json:"object_limits,omitempty"`
	Resources *map[string]float64       `json:"resource_limits,omitempty"`
	APIs      *map[string]rateLimitJSON `json:"api_limits,omitempty"`
}

type rateLimitJSON struct {
	Rate  int32  `json:"rate"`
	Unit  string `json:"unit,omitempty"`
	Burst *int32 `json:"burst,omitempty"`
}

type objectCountRow struct {
	TenantID   uuid.UUID `gorm:"primaryKey"`
	Namespace  string    `gorm:"primaryKey"`
	Kind       string    `gorm:"primaryKey"`
	Count      int64
	ObservedAt time.Time
}

func (objectCountRow) TableName() string { return "object_counts" }

type resourceAmountRow struct {
	TenantID   uuid.UUID `gorm:"primaryKey"`
	Namespace  string    `gorm:"primaryKey"`
	Resource   string    `gorm:"primaryKey"`
	Amount     float64
	ObservedAt time.Time
}

func (resourceAmountRow) TableName() string { return "resource_amounts" }

type limitOverridesRow struct {
	TenantID  uuid.UUID `gorm:"primaryKey"`
	Spec      specJSON  `gorm:"serializer:json"`
	UpdatedAt time.Time `gorm:"autoUpdateTime:false"`
}

func (limitOverridesRow) TableName() string { return "limit_overrides" }
