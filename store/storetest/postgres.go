package storetest

// PostgreSQL databases for tests.
//
// Cloning a database from a template costs a couple of hundred milliseconds
// and dropping it about as much (both copy or remove files and flush), while
// emptying the few small tables of a finished test takes tens. So each test
// binary keeps a pool:
//
//   - the first test that wants a migrated database creates and migrates a
//     template database; each binary has its own, so a change of migrations
//     is picked up by the next run and binaries never contend for one;
//   - a test gets the most recently released database of the pool, or a
//     new clone of the template when the pool is empty;
//   - when the test ends, its database is reset and put back: the release
//     waits until nothing is connected to it any more, renames it (so a
//     connection string the test leaked can never reach the next test's
//     data), checks that its schema still is the template's and truncates
//     every table except the migrations' bookkeeping (schema_versions). If
//     any step fails, the database is dropped instead of reused;
//   - Run drops the pool and the template after the last test.
//
// Database names carry the time they were given (billing_test_<unix>_<hex>),
// so that a later run can drop what a crashed run left behind (dropStale).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"billing-api/store"
)

const (
	testPrefix     = "billing_test_"
	templatePrefix = "billing_tmpl_"
	// staleAfter is the age past which a database with one of our prefixes
	// is taken for the leftover of a crashed run and dropped. No run lasts
	// that long (go test's default -timeout is ten minutes), and a pooled
	// database is renamed, so its name's time refreshed, at every release.
	staleAfter = 6 * time.Hour
	// adminTimeout bounds each administrative step (create, reset, drop).
	adminTimeout = time.Minute
	// resetLockTimeout bounds the reset's wait for a table lock, which
	// only a leftover of the test (a prepared transaction, say) can hold.
	resetLockTimeout = "2s"
)

var (
	// pooling is set while Run wraps the tests: only then is somebody
	// going to drop the pool at the end, so only then are databases reused.
	pooling atomic.Bool
	// settleTimeout is how long a release waits for the test's connections
	// to go: a closed pool's backends and a killed subprocess's take a few
	// milliseconds to exit. Whatever is still connected after it is a leak,
	// and the database is dropped rather than shared with a later test.
	settleTimeout = 2 * time.Second

	pgOnce sync.Once
	pg     *pgPool
	pgErr  error
)

// pgPool is the PostgreSQL side of one test binary.
type pgPool struct {
	adminURL string
	admin    *pgxpool.Pool // connections to the database of adminURL

	tmplOnce    sync.Once
	template    string
	fingerprint string // of the template's schema; see inspect
	tmplErr     error

	// createMu serialises clones: PostgreSQL refuses to copy a template
	// while another session (a concurrent copy) is connected to it.
	createMu sync.Mutex

	mu    sync.Mutex
	idle  []string            // reset, ready for a test; used last-in, first-out
	owned map[string]struct{} // every database this binary created and has not dropped
}

// postgres returns the binary's pool, connecting on first use.
func postgres() (*pgPool, error) {
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		defer cancel()
		p := &pgPool{adminURL: os.Getenv(EnvPostgresURL), owned: map[string]struct{}{}}
		cfg, err := pgxpool.ParseConfig(p.adminURL)
		if err != nil {
			pgErr = err
			return
		}
		// A few connections, kept for the binary's life: opening one costs
		// about as much as a reset's statements, and several binaries (each
		// with its own tests' pools) share the server's max_connections.
		cfg.MaxConns = 4
		if p.admin, pgErr = pgxpool.NewWithConfig(ctx, cfg); pgErr != nil {
			return
		}
		p.dropStale(ctx)
		pg = p
	})
	return pg, pgErr
}

func postgresConfig(t testing.TB, migrated bool) store.Config {
	t.Helper()
	p, err := postgres()
	if err != nil {
		t.Fatalf("PostgreSQL for tests: %v", err)
	}
	var name string
	if migrated {
		name, err = p.acquire()
	} else {
		name = newName(testPrefix)
		err = p.create(name, "")
	}
	if err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	// Behind the pooler a released database is dropped, not reused: the
	// pooler keeps server connections to it that a reset would wait on.
	pooler := PgBouncerURL()
	reuse := migrated && pooling.Load() && pooler == ""
	t.Cleanup(func() {
		if reuse {
			p.release(t, name)
		} else if err := p.drop(name); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	direct := withDatabase(p.adminURL, name)
	if pooler != "" {
		return store.Config{URL: withDatabase(pooler, name), DirectURL: direct, MaxOpenConns: 8}
	}
	return store.Config{URL: direct, MaxOpenConns: 8}
}

// acquire takes a migrated, empty database from the pool or clones one.
func (p *pgPool) acquire() (string, error) {
	tmpl, err := p.migratedTemplate()
	if err != nil {
		return "", fmt.Errorf("the migrated template: %w", err)
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		name := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return name, nil
	}
	p.mu.Unlock()
	name := newName(testPrefix)
	return name, p.create(name, tmpl)
}

// release resets a finished test's database and returns it to the pool,
// or drops it when it cannot be reset.
func (p *pgPool) release(t testing.TB, name string) {
	current, err := p.reset(name)
	if err == nil {
		p.mu.Lock()
		p.idle = append(p.idle, current)
		p.mu.Unlock()
		return
	}
	t.Logf("storetest: dropping the test's database instead of reusing it: %v", err)
	if err := p.drop(current); err != nil {
		t.Errorf("dropping %s: %v", current, err)
	}
}

// reset brings a released database back to the state of the migrated
// template. It returns the database's name, new once the rename is done.
func (p *pgPool) reset(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if err := p.settle(ctx, name); err != nil {
		return name, err
	}
	fresh := newName(testPrefix)
	if _, err := p.admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", name, fresh)); err != nil {
		return name, fmt.Errorf("renaming %s: %w", name, err)
	}
	p.mu.Lock()
	delete(p.owned, name)
	p.owned[fresh] = struct{}{}
	p.mu.Unlock()
	return fresh, p.empty(ctx, fresh)
}

// empty truncates every table but schema_versions, checking first that the
// schema still is the template's: a test that changed it (DDL of its own)
// would otherwise hand its changes to the next test.
func (p *pgPool) empty(ctx context.Context, name string) error {
	cfg, err := pgx.ParseConfig(withDatabase(p.adminURL, name))
	if err != nil {
		return err
	}
	cfg.RuntimeParams["lock_timeout"] = resetLockTimeout
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	tables, fingerprint, err := inspect(ctx, conn)
	if err != nil {
		return fmt.Errorf("inspecting %s: %w", name, err)
	}
	if fingerprint != p.fingerprint {
		return fmt.Errorf("the schema of %s is no longer the migrated one (did the test change it?)", name)
	}
	if tables == "" {
		return nil
	}
	// One statement, so the tables' foreign keys between each other are no
	// obstacle; RESTART IDENTITY resets the sequences the tables own.
	if _, err := conn.Exec(ctx, "TRUNCATE "+tables+" RESTART IDENTITY CASCADE"); err != nil {
		return fmt.Errorf("truncating %s: %w", name, err)
	}
	return nil
}

// inspectSQL lists the tables to truncate (discovered, since migrations add
// tables) and fingerprints the schema: relations with their columns,
// constraints, and the applied migrations. It is a cheap check that a test
// left the schema alone, not a proof (functions or triggers are not in it).
// Partitions are left out: the application creates them as data arrives
// (monthly partitions of usage_records), and truncating their parent empties
// them; a detached partition is a plain table again and does count.
// Sequences that no table owns are not reset; no migration creates one.
const inspectSQL = `
WITH rels AS (
	SELECT c.oid, n.nspname, c.relname, c.relkind
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
	  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'
	  AND NOT c.relispartition
)
SELECT
	coalesce((SELECT string_agg(format('%I.%I', nspname, relname), ', ' ORDER BY nspname, relname)
		FROM rels WHERE relkind IN ('r', 'p') AND relname NOT IN ('schema_versions', 'river_migration')), ''),
	md5(concat_ws(E'\n',
		(SELECT string_agg(format('%s.%s %s: %s', r.nspname, r.relname, r.relkind,
			(SELECT string_agg(format('%s %s%s', a.attname, format_type(a.atttypid, a.atttypmod),
				CASE WHEN a.attnotnull THEN ' not null' END), ', ' ORDER BY a.attnum)
			 FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped)),
			E'\n' ORDER BY r.nspname, r.relname) FROM rels r),
		(SELECT string_agg(format('%s %s', co.conname, pg_get_constraintdef(co.oid)), E'\n' ORDER BY co.conname, co.conrelid)
		 FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
		 LEFT JOIN pg_class cr ON cr.oid = co.conrelid
		 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND NOT coalesce(cr.relispartition, false)),
		(SELECT string_agg(id, ',' ORDER BY id) FROM schema_versions)))`

func inspect(ctx context.Context, conn *pgx.Conn) (tables, fingerprint string, err error) {
	err = conn.QueryRow(ctx, inspectSQL).Scan(&tables, &fingerprint)
	return tables, fingerprint, err
}

// settle waits until no client is connected to the database any more, so
// nothing of the finished test can still read or write it.
func (p *pgPool) settle(ctx context.Context, name string) error {
	deadline := time.Now().Add(settleTimeout)
	for {
		var n int
		err := p.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname::text = $1 AND backend_type = 'client backend'`, name).Scan(&n)
		switch {
		case err != nil:
			return err
		case n == 0:
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%s still has %d connections %v after the test (close what uses it in a cleanup registered after storetest.Config)", name, n, settleTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// migratedTemplate creates the binary's template on first use.
func (p *pgPool) migratedTemplate() (string, error) {
	p.tmplOnce.Do(func() { p.template, p.fingerprint, p.tmplErr = p.createTemplate() })
	return p.template, p.tmplErr
}

func (p *pgPool) createTemplate() (string, string, error) {
	name := newName(templatePrefix)
	if err := p.create(name, ""); err != nil {
		return "", "", err
	}
	fingerprint, err := p.migrate(name)
	if err != nil {
		_ = p.drop(name)
		return "", "", err
	}
	return name, fingerprint, nil
}

// migrate migrates the template and fingerprints its schema.
func (p *pgPool) migrate(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	dbURL := withDatabase(p.adminURL, name)
	db, err := store.Open(ctx, store.Config{URL: dbURL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return "", err
	}
	err = db.Migrate(ctx)
	_ = db.Close()
	if err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", err
	}
	_, fingerprint, err := inspect(ctx, conn)
	_ = conn.Close(ctx)
	if err != nil {
		return "", err
	}
	// CREATE DATABASE ... TEMPLATE waits in steps of 100ms while anything
	// (such as the backends just closed) is connected to the template, so
	// wait for them here in finer steps. Should they linger, the first clone
	// waits or fails by itself.
	_ = p.settle(ctx, name)
	return fingerprint, nil
}

// create creates a database, a copy of tmpl ("" for PostgreSQL's default).
func (p *pgPool) create(name, tmpl string) error {
	sql := "CREATE DATABASE " + name
	if tmpl != "" {
		sql += " TEMPLATE " + tmpl
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	p.createMu.Lock()
	_, err := p.admin.Exec(ctx, sql)
	p.createMu.Unlock()
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.owned[name] = struct{}{}
	p.mu.Unlock()
	return nil
}

// drop drops a database, whoever is still connected to it.
func (p *pgPool) drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	if _, err := p.admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
		return err
	}
	p.mu.Lock()
	delete(p.owned, name)
	p.mu.Unlock()
	return nil
}

// dropStale drops the databases of runs that ended without Run's cleanup
// (a panic, a timeout, a kill): those whose name is older than staleAfter.
// Databases named before names carried a time are left alone, since a run
// of an older checkout may be using them.
func (p *pgPool) dropStale(ctx context.Context) {
	rows, err := p.admin.Query(ctx, "SELECT datname::text FROM pg_database")
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range names {
		if born, ok := nameTime(name); ok && time.Since(born) > staleAfter {
			if _, err := p.admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
				fmt.Fprintf(os.Stderr, "storetest: dropping the stale database %s: %v\n", name, err)
			}
		}
	}
}

// closePostgres drops every database the binary still has, the template
// included, once the tests are over. The drops run side by side (as many as
// the admin pool has connections): each takes a few hundred milliseconds.
func closePostgres() {
	if pg == nil {
		return
	}
	p := pg
	p.mu.Lock()
	names := make([]string, 0, len(p.owned))
	for name := range p.owned {
		names = append(names, name)
	}
	p.idle = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			if err := p.drop(name); err != nil {
				fmt.Fprintf(os.Stderr, "storetest: dropping %s: %v\n", name, err)
			}
		})
	}
	wg.Wait()
	p.admin.Close()
}

// newName names a database after the time it is named, for dropStale.
func newName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + strconv.FormatInt(time.Now().Unix(), 10) + "_" + hex.EncodeToString(b)
}

// nameTime is the time newName put in name; false for other names.
func nameTime(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, testPrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(name, templatePrefix); !ok {
			return time.Time{}, false
		}
	}
	secs, random, ok := strings.Cut(rest, "_")
	if !ok || len(random) != 12 {
		return time.Time{}, false
	}
	if _, err := hex.DecodeString(random); err != nil {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
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
