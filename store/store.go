// Package store is the persistence of billing-api: GORM models (never the
// generated wire types), versioned migrations and the repositories the domain
// packages declare. It runs on PostgreSQL (production) and on an embedded,
// pure-Go SQLite file (the default). Not-found, duplicate-key and
// connectivity errors become fault errors here and nowhere else.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"billing-api/server/cache"
	"billing-api/server/clock"
	"billing-api/server/fault"
)

// Dialect names the database engine in use.
type Dialect string

const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Config selects and tunes the database.
type Config struct {
	// URL is a postgres:// URL; empty selects SQLite at SQLitePath.
	URL string
	// DirectURL, with URL, reaches the same PostgreSQL database without a
	// connection pooler, and says that URL goes through one in transaction
	// pooling mode (PgBouncer's pool_mode=transaction): the migrations (the
	// store's and River's) run on DirectURL, and statements on URL are
	// described, not prepared (pgx's cache_describe; a server connection
	// does not stay with one client between transactions, so a named
	// prepared statement would not be found), unless URL names a
	// default_query_exec_mode itself.
	DirectURL string
	// SQLitePath is the SQLite file used when URL is empty.
	SQLitePath string
	// Pool settings; zero values take the defaults below.
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
	// SlowQuery logs statements slower than this at warn level; 0 disables.
	SlowQuery time.Duration
	Logger    *slog.Logger
	// Now is the clock GORM stamps rows with; nil means clock.System.
	Now clock.Clock
}

// DefaultSQLitePath is where the embedded database lives by default.
const DefaultSQLitePath = "data/billing.db"

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.URL != "" && !strings.HasPrefix(c.URL, "postgres://") && !strings.HasPrefix(c.URL, "postgresql://") {
		return fmt.Errorf("DATABASE_URL must be a postgres:// URL (leave it unset for the embedded SQLite store)")
	}
	if c.DirectURL != "" {
		if c.URL == "" {
			return fmt.Errorf("DATABASE_DIRECT_URL needs DATABASE_URL: it is the way around the pooler to the same PostgreSQL")
		}
		if !strings.HasPrefix(c.DirectURL, "postgres://") && !strings.HasPrefix(c.DirectURL, "postgresql://") {
			return fmt.Errorf("DATABASE_DIRECT_URL must be a postgres:// URL")
		}
	}
	if c.MaxOpenConns < 0 || c.MaxIdleConns < 0 || c.ConnMaxLifetime < 0 || c.ConnMaxIdleTime < 0 {
		return fmt.Errorf("pool settings must not be negative")
	}
	return nil
}

// DB is an open database.
type DB struct {
	gdb     *gorm.DB
	sqlDB   *sql.DB
	dialect Dialect
	reach   *reachability
	// direct is the configuration the migrations open a connection with
	// when Config.DirectURL is set (URL replaced by DirectURL).
	direct Config
}

// Open connects, applies the pool settings and checks the connection. It
// does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	gcfg := &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                clock.Normalized(cfg.Now),
	}
	// The logger sees every statement's outcome; on PostgreSQL it also tells
	// the DB's reachability about lost connections.
	reach := &reachability{watch: cfg.URL != "", now: clock.Normalized(cfg.Now)}
	gcfg.Logger = gormLogger{log: log, slow: cfg.SlowQuery, numbered: cfg.URL != "", reach: reach}
	var (
		dialector gorm.Dialector
		dialect   Dialect
		maxOpen   = cfg.MaxOpenConns
	)
	if cfg.URL != "" {
		dialect = Postgres
		dsn := cfg.URL
		if cfg.DirectURL != "" {
			var err error
			if dsn, err = describedNotPrepared(dsn); err != nil {
				return nil, err
			}
		}
		dialector = postgres.New(postgres.Config{DSN: dsn})
		if maxOpen == 0 {
			maxOpen = 20
		}
	} else {
		dialect = SQLite
		path := cfg.SQLitePath
		if path == "" {
			path = DefaultSQLitePath
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("creating %s: %w", dir, err)
			}
		}
		dialector = sqlite.Open(sqliteDSN(path))
		if maxOpen == 0 {
			maxOpen = 8
		}
	}
	gdb, err := openRetryingBusy(ctx, dialector, gcfg)
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	maxIdle := cfg.MaxIdleConns
	if maxIdle == 0 {
		maxIdle = maxOpen
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxIdle)
	lifetime := cfg.ConnMaxLifetime
	if lifetime == 0 {
		lifetime = 30 * time.Minute
	}
	sqlDB.SetConnMaxLifetime(lifetime)
	idle := cfg.ConnMaxIdleTime
	if idle == 0 {
		idle = 5 * time.Minute
	}
	sqlDB.SetConnMaxIdleTime(idle)
	db := &DB{gdb: gdb, sqlDB: sqlDB, dialect: dialect, reach: reach}
	if cfg.DirectURL != "" {
		db.direct = cfg
		db.direct.URL, db.direct.DirectURL = cfg.DirectURL, ""
		db.direct.MaxOpenConns, db.direct.MaxIdleConns = 2, 0
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connecting to the %s database: %w", dialect, err)
	}
	return db, nil
}

// describedNotPrepared makes a pooled URL's statements run unnamed, each
// described once per connection and its description cached (pgx's
// cache_describe): a transaction-pooling pooler hands each transaction any
// server connection, where a statement another one prepared does not exist.
// The modes that skip describing (exec, simple_protocol) cannot bind the
// 16-byte UUIDs the store passes, so describing it is. A URL that chooses a
// mode keeps it.
func describedNotPrepared(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("DATABASE_URL: %w", err)
	}
	q := u.Query()
	if q.Get("default_query_exec_mode") == "" {
		q.Set("default_query_exec_mode", "cache_describe")
		u.RawQuery = q.Encode()
	}
	return u.String(), nil
}

// openRetryingBusy opens the database, retrying while SQLite reports the
// file busy: several processes opening a brand-new file race to switch it to
// WAL mode, and SQLite answers that race with SQLITE_BUSY at once instead of
// waiting on the busy timeout.
func openRetryingBusy(ctx context.Context, dialector gorm.Dialector, cfg *gorm.Config) (*gorm.DB, error) {
	deadline := time.Now().Add(10 * time.Second)
	backoff := 5 * time.Millisecond
	for {
		gdb, err := gorm.Open(dialector, cfg)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return gdb, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// sqliteDSN turns on what makes SQLite safe for a server: WAL so readers do
// not block the writer, BEGIN IMMEDIATE so concurrent writers queue on the
// busy timeout instead of failing, synchronous=FULL so a committed (and
// acknowledged) transaction survives a power cut, and foreign keys.
//
// No _time_format: glebarez/go-sqlite v1.21 stops reading the DSN after it,
// which silently drops _txlock. Times are written in Go's default layout;
// the store writes only UTC, so they compare correctly as text.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"
}

// Dialect reports the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL exposes the pool, for its statistics.
func (db *DB) SQL() *sql.DB { return db.sqlDB }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sqlDB.PingContext(ctx); err != nil {
		db.reach.observe(err) // a readiness probe that finds it gone tells the requests
		return err
	}
	// A ping on SQLite only proves the file opens; run a statement.
	var one int
	return db.sqlDB.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Close releases the pool.
func (db *DB) Close() error { return db.sqlDB.Close() }

type txKey struct{}

// WithTx runs fn in a transaction carried by the context; a nested call
// joins the outer transaction. The transaction commits when fn returns nil.
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	err := db.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// Reads inside a transaction see the database as it does, never a
		// cached copy, and what they read is not cached.
		return fn(cache.Fresh(context.WithValue(ctx, txKey{}, tx)))
	})
	// BEGIN and COMMIT are not statements GORM traces: a connection refused
	// at BEGIN is seen here.
	db.reach.observe(err)
	return classify(err)
}

// conn is the handle every query uses: the context's transaction, if any.
func (db *DB) conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return db.gdb.WithContext(ctx)
}

// classify turns driver errors into fault errors. Errors that already are
// fault errors pass through.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	switch {
	case errors.As(err, &fe):
		return err
	case errors.Is(err, gorm.ErrRecordNotFound):
		return &fault.Error{Kind: fault.KindNotFound, Message: "not found", Err: err}
	case errors.Is(err, gorm.ErrDuplicatedKey), uniqueViolation(err):
		return &fault.Error{Kind: fault.KindConflict, Message: "already exists", Err: err}
	case unavailable(err):
		return fault.Unavailable(err)
	case errors.Is(err, context.Canceled):
		return err
	}
	return fault.Internal(err)
}

// uniqueViolation reports a unique index refusing a row, as the drivers
// report it to hand-written statements (GORM translates its own).
func uniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// unavailable reports errors that mean "the database cannot serve now":
// lost, cut or refused connections, timeouts, and SQLite's busy lock.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sql.ErrConnDone), connectionError(err):
		return true
	case errors.As(err, &pgErr):
		// 57P0x: the server is shutting down; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "57P0") || pgErr.Code == "53300"
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "sql: database is closed")
}

// gormLogger sends GORM's errors and slow statements to slog, never with
// the values bound to a statement: those are tenants' data and token hashes.
type gormLogger struct {
	log  *slog.Logger
	slow time.Duration
	// numbered is set on PostgreSQL, whose placeholders are $1, $2, ...
	numbered bool
	// reach learns of statements that found the database gone.
	reach *reachability
}

// ParamsFilter drops the bound values, so the SQL GORM hands to Trace keeps
// its placeholders.
func (l gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

var _ gorm.ParamsFilter = gormLogger{}

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (l gormLogger) Info(context.Context, string, ...any)     {}
func (l gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, "gorm: "+fmt.Sprintf(msg, withoutValues(args)...))
}
func (l gormLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, "gorm: "+fmt.Sprintf(msg, withoutValues(args)...))
}

// withoutValues keeps the errors among GORM's message arguments and masks
// the rest, which may be a row's values.
func withoutValues(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if err, ok := a.(error); ok {
			out[i] = err
		} else {
			out[i] = masked{}
		}
	}
	return out
}

// masked prints as "<redacted>" whatever the verb.
type masked struct{}

func (masked) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("<redacted>")) }

// dollarPlaceholder is how GORM's PostgreSQL Explain leaves a $n placeholder
// it has no value for.
var dollarPlaceholder = regexp.MustCompile(`\$(\d+)\$`)

func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if l.reach != nil { // nil in tests that build a logger alone
		l.reach.observe(err)
	}
	if l.slow <= 0 {
		return
	}
	if elapsed := time.Since(begin); elapsed >= l.slow {
		sqlText, rows := fc()
		if l.numbered {
			sqlText = dollarPlaceholder.ReplaceAllString(sqlText, "$$$1")
		}
		if len(sqlText) > 300 {
			sqlText = sqlText[:300] + "..."
		}
		l.log.WarnContext(ctx, "slow query", "elapsed_ms", elapsed.Milliseconds(), "rows", rows, "sql", sqlText)
	}
}

// SQLTx returns the database/sql transaction the context carries (see
// WithTx), for libraries that write in it: the job engine stores a job in
// the transaction of the change that calls for it.
func SQLTx(ctx context.Context) (*sql.Tx, bool) {
	tx, ok := ctx.Value(txKey{}).(*gorm.DB)
	if !ok {
		return nil, false
	}
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	return sqlTx, ok
}
