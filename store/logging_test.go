package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"billing-api/server/tenancy"
	"billing-api/store"
	"billing-api/store/storetest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Slow-query lines carry the statement with its placeholders, never the
// values bound to it.
func TestSlowQueryLogsCarryNoBoundValues(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logs := &lockedBuffer{}
	cfg := storetest.Config(t)
	cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	cfg.SlowQuery = time.Nanosecond
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	repo := store.NewTenancy(db)
	const secretName, secretDisplay, secretHash = "secret-tenant-name", "Secret Display 4711", "secret-token-hash-0815"
	ten := tenancy.Tenant{ID: uuid.New(), Name: secretName, DisplayName: secretDisplay, CreatedAt: time.Now()}
	if err := repo.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateTenant(ctx, ten); err == nil { // a failing statement is logged too
		t.Fatal("duplicate tenant accepted")
	}
	if _, err := repo.TenantByName(ctx, secretName); err != nil {
		t.Fatal(err)
	}
	_, _, _ = repo.TokenByHash(ctx, secretHash)

	placeholder := "?"
	if db.Dialect() == store.Postgres {
		placeholder = "$1"
	}
	var slow []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "slow query" {
			slow = append(slow, rec["sql"].(string))
		}
	}
	var insert, lookup bool
	for _, sql := range slow {
		for _, secret := range []string{secretName, secretDisplay, secretHash} {
			if strings.Contains(sql, secret) {
				t.Errorf("slow-query line carries %q: %s", secret, sql)
			}
		}
		if strings.Contains(sql, "$1$") {
			t.Errorf("mangled placeholder: %s", sql)
		}
		insert = insert || strings.Contains(sql, "INSERT INTO") && strings.Contains(sql, "tenants") && strings.Contains(sql, placeholder)
		lookup = lookup || strings.Contains(sql, "secret_hash") && strings.Contains(sql, placeholder)
	}
	if !insert || !lookup {
		t.Fatalf("no slow-query line with a %q placeholder for the insert (%v) or the token lookup (%v):\n%s",
			placeholder, insert, lookup, strings.Join(slow, "\n"))
	}
}
