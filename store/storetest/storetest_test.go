package storetest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"billing-api/server/tenancy"
	"billing-api/store"
	"billing-api/store/migrations"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

// A database a finished test wrote to reaches the next test empty, with
// the migrations' bookkeeping intact; on PostgreSQL it is the very same
// database (reused, not a new clone) and no longer under its old name.
func TestAReleasedDatabaseComesBackEmpty(t *testing.T) {
	var (
		firstOID uint32
		firstURL string
	)
	t.Run("write", func(t *testing.T) {
		cfg := Config(t)
		db := open(t, cfg)
		firstURL = cfg.URL
		firstOID = databaseOID(t, db)
		fillSome(t, db)
		if counts := rowCounts(t, db); counts["tenants"] == 0 || counts["namespaces"] == 0 {
			t.Fatalf("rows after writing: %v", counts)
		}
	})
	t.Run("reuse", func(t *testing.T) {
		db := Open(t)
		if Dialect() == store.Postgres && PgBouncerURL() == "" { // behind the pooler a released database is dropped
			if got := databaseOID(t, db); got != firstOID {
				t.Fatalf("got database %d, want the released %d back (is the pool in use?)", got, firstOID)
			}
			conn, err := pgx.Connect(context.Background(), firstURL)
			if err == nil {
				_ = conn.Close(context.Background())
				t.Fatal("the previous test's URL still reaches the database")
			}
		}
		assertEmptyAndMigrated(t, db)
		fillSome(t, db) // the same names again: nothing of the first test is left
	})
}

// Tests running in parallel never share a database, and a reused one is
// empty for each of them. The second round reuses the first round's. Each
// subtest holds its database's settings (path or URL) in a shared set while
// it runs, so two holding the same one at once fail whichever way they
// interleave.
func TestParallelTestsGetPrivateDatabases(t *testing.T) {
	var mu sync.Mutex
	held := map[string]bool{}
	for round := range 2 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			for i := range 4 {
				t.Run(fmt.Sprint(i), func(t *testing.T) {
					t.Parallel()
					cfg := Config(t)
					key := cfg.SQLitePath + cfg.URL
					mu.Lock()
					if held[key] {
						mu.Unlock()
						t.Fatalf("%s is held by another running test", key)
					}
					held[key] = true
					mu.Unlock()
					db, err := store.Open(context.Background(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					if err := db.Migrate(context.Background()); err != nil { // SQLite files start empty
						t.Fatal(err)
					}
					assertEmptyAndMigrated(t, db)
					fillSome(t, db)
					if n := rowCounts(t, db)["tenants"]; n != 1 {
						t.Fatalf("%d tenants, want only this test's", n)
					}
					_ = db.Close()
					mu.Lock()
					delete(held, key)
					mu.Unlock()
				})
			}
		})
	}
}

// A test that changed the schema, or left a connection open, does not pass
// its database on: it is dropped and the next test gets another.
func TestADatabaseThatCannotBeResetIsDropped(t *testing.T) {
	if Dialect() != store.Postgres {
		t.Skip("pooling is PostgreSQL's")
	}
	ctx := context.Background()
	p, err := postgres()
	if err != nil {
		t.Fatal(err)
	}
	exists := func(oid uint32) bool {
		t.Helper()
		var n int
		if err := p.admin.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE oid = $1", oid).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	var oid uint32
	t.Run("changes the schema", func(t *testing.T) {
		db := Open(t)
		oid = databaseOID(t, db)
		if _, err := db.SQL().ExecContext(ctx, "CREATE TABLE scratch (x INTEGER)"); err != nil {
			t.Fatal(err)
		}
	})
	if exists(oid) {
		t.Fatal("a database whose schema a test changed was kept")
	}

	old := settleTimeout
	settleTimeout = 100 * time.Millisecond
	defer func() { settleTimeout = old }()
	t.Run("leaks a connection", func(t *testing.T) {
		var leaked *pgx.Conn
		// Registered before Config, so it runs after the release.
		t.Cleanup(func() {
			if leaked != nil {
				_ = leaked.Close(ctx)
			}
		})
		cfg := Config(t)
		db := open(t, cfg)
		oid = databaseOID(t, db)
		if leaked, err = pgx.Connect(ctx, cfg.URL); err != nil {
			t.Fatal(err)
		}
	})
	if exists(oid) {
		t.Fatal("a database a test left a connection to was kept")
	}
	if db := Open(t); databaseOID(t, db) == oid {
		t.Fatal("the next test got the dropped database")
	}
}

// Without Run nobody would drop a pool at the end, so databases are not
// pooled: each is dropped when its test ends, as before pooling.
func TestWithoutRunDatabasesAreDropped(t *testing.T) {
	if Dialect() != store.Postgres {
		t.Skip("pooling is PostgreSQL's")
	}
	p, err := postgres()
	if err != nil {
		t.Fatal(err)
	}
	idle := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.idle)
	}
	before := idle()
	pooling.Store(false)
	defer pooling.Store(true)
	var name string
	t.Run("uses one", func(t *testing.T) {
		cfg := Config(t)
		u, err := url.Parse(cfg.URL)
		if err != nil {
			t.Fatal(err)
		}
		name = strings.TrimPrefix(u.Path, "/")
	})
	var n int
	if err := p.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname::text = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%s outlived its test", name)
	}
	// It took one from the pool, if there was one, and gave none back.
	if after, want := idle(), max(before-1, 0); after != want {
		t.Fatalf("%d pooled databases, want %d", after, want)
	}
}

func TestNamesCarryTheirTime(t *testing.T) {
	name := newName(testPrefix)
	if born, ok := nameTime(name); !ok || time.Since(born) > time.Minute {
		t.Fatalf("%s: %v %v", name, born, ok)
	}
	for _, other := range []string{"test", "billing_test_0123456789ab", "billing_tmpl_x_0123456789ab", "billing_other_1_0123456789ab"} {
		if _, ok := nameTime(other); ok {
			t.Errorf("%s taken for one of ours", other)
		}
	}
}

// open opens cfg and closes it before the database is released.
func open(t *testing.T, cfg store.Config) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// fillSome writes a tenant and a namespace.
func fillSome(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	repo := store.NewTenancy(db)
	ten := tenancy.Tenant{ID: uuid.New(), Name: "acme", DisplayName: "Acme", CreatedAt: time.Now()}
	if err := repo.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateNamespace(ctx, tenancy.Namespace{TenantID: ten.ID, Name: "shop", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func assertEmptyAndMigrated(t *testing.T, db *store.DB) {
	t.Helper()
	for table, n := range rowCounts(t, db) {
		switch {
		case table == "schema_versions":
			if n != len(migrations.All()) {
				t.Errorf("schema_versions has %d rows, want one per migration (%d)", n, len(migrations.All()))
			}
		case table == "river_migration":
			// River's own versions, kept like ours.
			if n == 0 {
				t.Errorf("river_migration is empty: River's tables are not migrated")
			}
		case n != 0:
			t.Errorf("a new test's database has %d rows in %s", n, table)
		}
	}
	if v, err := db.SchemaVersion(context.Background()); err != nil || v != store.LatestSchemaVersion() {
		t.Errorf("schema version %q (%v), want %s", v, err, store.LatestSchemaVersion())
	}
}

// rowCounts counts the rows of every table of the database.
func rowCounts(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	ctx := context.Background()
	list := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if db.Dialect() == store.Postgres {
		list = "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()"
	}
	rows, err := db.SQL().QueryContext(ctx, list)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	if len(tables) < 2 {
		t.Fatalf("tables %v: not migrated?", tables)
	}
	counts := map[string]int{}
	for _, table := range tables {
		var n int
		if err := db.SQL().QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %q", table)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	return counts
}

// databaseOID identifies a PostgreSQL database across renames (0 on SQLite).
func databaseOID(t *testing.T, db *store.DB) uint32 {
	t.Helper()
	if db.Dialect() != store.Postgres {
		return 0
	}
	var oid uint32
	if err := db.SQL().QueryRowContext(context.Background(),
		"SELECT oid FROM pg_database WHERE datname = current_database()").Scan(&oid); err != nil {
		t.Fatal(err)
	}
	return oid
}
