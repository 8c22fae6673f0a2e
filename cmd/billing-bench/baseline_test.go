package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"billing-api/store/storetest"
)

// TestBaselineOnABenchDatabase creates and drops a bench database as the
// harness does, seeds it (a small data set) and the baseline's tables, and
// sends each baseline route a request.
func TestBaselineOnABenchDatabase(t *testing.T) {
	t.Parallel()
	adminURL := os.Getenv(storetest.EnvPostgresURL)
	if adminURL == "" {
		t.Skipf("the harness runs on PostgreSQL only: set %s to test its database and baseline", storetest.EnvPostgresURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := createBenchDatabase(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(db.Name, benchPrefix) || !strings.Contains(db.URL, "/"+db.Name) {
		t.Fatalf("database %q at %q", db.Name, db.URL)
	}
	dropped := false
	t.Cleanup(func() {
		if !dropped {
			_ = db.Drop(context.Background())
		}
	})
	f, _, err := seedDatabase(ctx, db.URL, seedConfig{Tenants: 2, Workers: 4, UsageHours: 24})
	if err != nil {
		t.Fatal(err)
	}
	if err := seedBaseline(ctx, db.URL); err != nil {
		t.Fatal(err)
	}
	// The baseline's usage table starts as large as usage_records.
	copied, err := settleDatabase(ctx, db.URL)
	if want := int64(usageSeriesCount * 24); err != nil || copied != want {
		t.Fatalf("copied %d seeded usage records (%v), want %d", copied, err, want)
	}
	pool, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	h := newBaselineHandler(pool, map[string]uuid.UUID{f.Tenant: f.TenantID})
	call := func(method, path string, body []byte) (int, map[string]any) {
		t.Helper()
		var req *http.Request
		if body != nil {
			req = httptest.NewRequest(method, path, strings.NewReader(string(body)))
		} else {
			req = httptest.NewRequest(method, path, nil)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", method, path, rec.Code, rec.Body)
		}
		return rec.Code, out
	}

	if code, out := call(http.MethodGet, basePing.Path(&f, 0), nil); code != http.StatusOK || out["status"] != "ok" {
		t.Fatalf("ping: %d %v", code, out)
	}
	code, out := call(http.MethodGet, baseGet.Path(&f, baselineRows-1), nil)
	if code != http.StatusOK || out["id"] != float64(baselineRows) || out["name"] != "item-10000" || out["payload"].(map[string]any)["spec"] == nil {
		t.Fatalf("last seeded row: %d %v", code, out)
	}
	if code, _ := call(http.MethodGet, "/items/0", nil); code != http.StatusNotFound {
		t.Fatalf("missing row: %d", code)
	}
	// The write lands: what the next read returns is what was put.
	const n = 7
	if code, out := call(basePut.Method, basePut.Path(&f, n), basePut.Body(&f, n)); code != http.StatusOK || out["name"] != "item-8" {
		t.Fatalf("put: %d %v", code, out)
	}
	if code, out := call(http.MethodGet, basePut.Path(&f, n), nil); code != http.StatusOK ||
		out["payload"].(map[string]any)["labels"].(map[string]any)["rev"] != "r7" || out["tenant"] != "00000000-0000-4000-8000-000000000001" {
		t.Fatalf("read after put: %d %v", code, out)
	}
	if code, _ := call(http.MethodPut, "/items/1", []byte(`{"name":""}`)); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d", code)
	}

	// The COPY takes ingestUsage's very body and stores every record of it,
	// quantities in millionths like usage_records.
	f.Phase = "test"
	batch := baseCopy.Body(&f, 3)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(baseCopy.Method, baseCopy.Path(&f, 3), strings.NewReader(string(batch))))
	if err := baseCopy.Check(&f, rec.Body.Bytes()); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("copy: %d %s (%v)", rec.Code, rec.Body, err)
	}
	var first struct {
		Records []baselineUsageRecord `json:"records"`
	}
	if err := json.Unmarshal(batch, &first); err != nil {
		t.Fatal(err)
	}
	var rows, quantity int64
	if err := pool.QueryRow(ctx, `SELECT count(*), sum(quantity) FILTER (WHERE record_id = $1) FROM `+baselineUsageTable+` WHERE record_id LIKE 'test-%'`,
		first.Records[1].ID).Scan(&rows, &quantity); err != nil || rows != ingestBatchRecords || quantity != int64(first.Records[1].Quantity*1e6) {
		t.Fatalf("%d records copied, the second's quantity %d (%v); want %d and %v", rows, quantity, err, ingestBatchRecords, first.Records[1].Quantity)
	}
	if code, _ := call(http.MethodPost, "/usage_records", []byte(`{"records":[{"id":"x","tenant":"nobody"}]}`)); code != http.StatusBadRequest {
		t.Fatalf("unknown tenant: %d", code)
	}
	pool.Close()

	// Dropped even with a connection still open, as after a killed server.
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := db.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	dropped = true
	check, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close(ctx)
	var exists bool
	if err := check.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db.Name).Scan(&exists); err != nil || exists {
		t.Fatalf("%s still exists (%v)", db.Name, err)
	}
}
