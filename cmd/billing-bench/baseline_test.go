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

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"billing-api/store/storetest"
)

// TestBaselineOnABenchDatabase creates and drops a bench database as the
// harness does, seeds the baseline's table and sends each baseline route
// one request.
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
	if err := seedBaseline(ctx, db.URL); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	h := newBaselineHandler(pool)
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

	if code, out := call(http.MethodGet, basePing.Path(0), nil); code != http.StatusOK || out["status"] != "ok" {
		t.Fatalf("ping: %d %v", code, out)
	}
	code, out := call(http.MethodGet, baseGet.Path(baselineRows-1), nil)
	if code != http.StatusOK || out["id"] != float64(baselineRows) || out["name"] != "item-10000" || out["payload"].(map[string]any)["spec"] == nil {
		t.Fatalf("last seeded row: %d %v", code, out)
	}
	if code, _ := call(http.MethodGet, "/items/0", nil); code != http.StatusNotFound {
		t.Fatalf("missing row: %d", code)
	}
	// The write lands: what the next read returns is what was put.
	const n = 7
	if code, out := call(basePut.Method, basePut.Path(n), basePut.Body(n)); code != http.StatusOK || out["name"] != "item-8" {
		t.Fatalf("put: %d %v", code, out)
	}
	if code, out := call(http.MethodGet, basePut.Path(n), nil); code != http.StatusOK ||
		out["payload"].(map[string]any)["labels"].(map[string]any)["rev"] != "r7" || out["tenant"] != "00000000-0000-4000-8000-000000000001" {
		t.Fatalf("read after put: %d %v", code, out)
	}
	if code, _ := call(http.MethodPut, "/items/1", []byte(`{"name":""}`)); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d", code)
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
