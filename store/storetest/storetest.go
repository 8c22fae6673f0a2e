// Package storetest gives each test its own migrated, empty database: a
// SQLite file in the test's temp dir, or, when BILLING_TEST_POSTGRES_URL is
// set, a PostgreSQL database private to the test. The same suite thus runs
// on both stores.
//
// On PostgreSQL, creating and dropping a database per test dominated the
// suite's time, so each test binary keeps a pool of migrated databases (see
// postgres.go): a released database is emptied and handed to a later test
// instead of being dropped. Run drops the pool when the tests end.
package storetest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"billing-api/store"
)

// EnvPostgresURL names the variable that switches tests to PostgreSQL. It
// must point at an existing database the user may CREATE DATABASE from.
const EnvPostgresURL = "BILLING_TEST_POSTGRES_URL"

// EnvPgBouncerURL, with EnvPostgresURL, names a PgBouncer in transaction
// pooling mode in front of that PostgreSQL (its database name is ignored:
// the pooler must forward every database name, `* = host=... port=...`).
// Tests then connect through it, with the direct URL as the store's
// DirectURL, as a deployment behind a pooler does; `make test` runs a pass
// so when the variable is set (.ci/pgbouncer.sh starts one).
const EnvPgBouncerURL = "BILLING_TEST_PGBOUNCER_URL"

// PgBouncerURL is EnvPgBouncerURL's value, or "" when tests connect
// directly.
func PgBouncerURL() string {
	if os.Getenv(EnvPostgresURL) == "" {
		return ""
	}
	return os.Getenv(EnvPgBouncerURL)
}

// Run wraps testing.M.Run so the PostgreSQL databases this test binary
// created are dropped at the end. Use it from TestMain:
// os.Exit(storetest.Run(m)). Without it tests still get private databases,
// but each is dropped when its test ends instead of being reused.
func Run(m interface{ Run() int }) int {
	pooling.Store(true)
	code := m.Run()
	pooling.Store(false)
	closePostgres()
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
	// Registered after Config's cleanup, so it runs first: the pool is
	// closed before the database is released.
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// Config returns the configuration of a fresh database private to t (for
// tests that open it themselves, such as the binary's): an empty SQLite
// file, or a migrated, empty PostgreSQL database that is released when t
// ends. Close whatever uses it in a cleanup registered after this call (or
// before the test returns): cleanups run last-registered first, and a
// database still in use when it is released is dropped, not reused.
func Config(t testing.TB) store.Config {
	t.Helper()
	if os.Getenv(EnvPostgresURL) == "" {
		return sqliteConfig(t)
	}
	return postgresConfig(t, true)
}

// EmptyConfig is Config without the migrations, for tests of migrating.
// Its PostgreSQL database is always dropped when t ends, never reused.
func EmptyConfig(t testing.TB) store.Config {
	t.Helper()
	if os.Getenv(EnvPostgresURL) == "" {
		return sqliteConfig(t)
	}
	return postgresConfig(t, false)
}

func sqliteConfig(t testing.TB) store.Config {
	return store.Config{SQLitePath: filepath.Join(t.TempDir(), "billing.db")}
}

// StoreIndependent skips t in the PostgreSQL and PgBouncer passes: for the
// few heavy tests whose subject is not the store (compiling the TypeScript
// SDK, driving Swagger UI in a browser), which make test's SQLite pass runs;
// running them again on another store costs CI time and checks nothing new.
// what says what the test checks instead.
func StoreIndependent(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvPostgresURL) != "" {
		t.Skipf("%s does not depend on the store: run in make test's SQLite pass only", what)
	}
}
