// Package storetest gives each test its own migrated, empty database: a
// SQLite file in the test's temp dir, or, when BILLING_TEST_POSTGRES_URL is
// set, a throw-away PostgreSQL database cloned from a migrated template and
// dropped when the test ends. The same suite thus runs on both stores.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"billing-api/store"
)

// EnvPostgresURL names the variable that switches tests to PostgreSQL. It
// must point at an existing database the user may CREATE DATABASE from.
const EnvPostgresURL = "BILLING_TEST_POSTGRES_URL"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
	createMu     sync.Mutex
)

// Run wraps testing.M.Run so the PostgreSQL template is dropped at the end.
// Use it from TestMain: os.Exit(storetest.Run(m)).
func Run(m interface{ Run() int }) int {
	code := m.Run()
	if templateName != "" {
		if err := dropDatabase(os.Getenv(EnvPostgresURL), templateName); err != nil {
			fmt.Fprintf(os.Stderr, "storetest: dropping template %s: %v\n", templateName, err)
		}
	}
	return code
}

// Dialect reports which store the tests run on.
func Dialect() store.Dialect {
	if os.Getenv(EnvPostgresURL) != "" {
		return store.Postgres
	}
	return store.SQLite
}

// Open returns a migrated database private to t.
func Open(t testing.TB) *store.DB {
	t.Helper()
	ctx := context.Background()
	cfg := Config(t)
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// Config returns the configuration of a fresh database private to t (for
// tests that open it themselves, such as the binary's): an empty SQLite file,
// or a migrated PostgreSQL database dropped when t ends.
func Config(t testing.TB) store.Config {
	t.Helper()
	return config(t, true)
}

// EmptyConfig is Config without the migrations, for tests of migrating.
func EmptyConfig(t testing.TB) store.Config {
	t.Helper()
	return config(t, false)
}

func config(t testing.TB, migrated bool) store.Config {
	t.Helper()
	adminURL := os.Getenv(EnvPostgresURL)
	if adminURL == "" {
		return store.Config{SQLitePath: filepath.Join(t.TempDir(), "billing.db")}
	}
	create := "CREATE DATABASE %s"
	if migrated {
		templateOnce.Do(func() { templateName, templateErr = createTemplate(adminURL) })
		if templateErr != nil {
			t.Fatalf("PostgreSQL test template: %v", templateErr)
		}
		create += " TEMPLATE " + templateName
	}
	name := "billing_test_" + randomHex(6)
	createMu.Lock()
	err := execAdmin(adminURL, fmt.Sprintf(create, name))
	createMu.Unlock()
	if err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(adminURL, name); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	return store.Config{URL: withDatabase(adminURL, name), MaxOpenConns: 8}
}

func createTemplate(adminURL string) (string, error) {
	name := "billing_tmpl_" + randomHex(6)
	if err := execAdmin(adminURL, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: withDatabase(adminURL, name), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return "", err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return "", err
	}
	return name, nil
}

func dropDatabase(adminURL, name string) error {
	return execAdmin(adminURL, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
}

func execAdmin(adminURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase swaps the database name in a postgres URL.
func withDatabase(raw, name string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
