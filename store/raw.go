package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// query runs a hand-written statement on the context's transaction or the
// pool, past GORM's statement builder: for the few queries every request
// makes, building the statement cost more CPU than running it. Placeholders
// are $1, $2, ... (PostgreSQL's; SQLite binds them by number too). Slow
// statements are logged like GORM's, without their values.
func (db *DB) query(ctx context.Context, sqlText string, args ...any) (*sql.Rows, error) {
	begin := time.Now()
	rows, err := db.pool(ctx).QueryContext(ctx, sqlText, args...)
	db.logSlow(ctx, begin, sqlText, err)
	return rows, classify(err)
}

// exec is query for statements that return no rows.
func (db *DB) exec(ctx context.Context, sqlText string, args ...any) (sql.Result, error) {
	begin := time.Now()
	res, err := db.pool(ctx).ExecContext(ctx, sqlText, args...)
	db.logSlow(ctx, begin, sqlText, err)
	return res, classify(err)
}

// pool is the context's transaction, or the connection pool (without the
// GORM session conn would build).
func (db *DB) pool(ctx context.Context) gorm.ConnPool {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx.Statement.ConnPool
	}
	return db.sqlDB
}

func (db *DB) logSlow(ctx context.Context, begin time.Time, sqlText string, err error) {
	if l, ok := db.gdb.Logger.(gormLogger); ok {
		l.Trace(ctx, begin, func() (string, int64) { return sqlText, -1 }, err)
	}
}

// id is a UUID as the database wants it bound: PostgreSQL's driver takes
// the 16 bytes directly (its uuid.UUID path goes through driver.Valuer and
// a text round), SQLite keeps the text form.
func (db *DB) id(u uuid.UUID) any {
	if db.dialect == Postgres {
		return [16]byte(u)
	}
	return u.String()
}

// count runs a SELECT COUNT(*) statement.
func (db *DB) count(ctx context.Context, sqlText string, args ...any) (int64, error) {
	rows, err := db.query(ctx, sqlText, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, classify(err)
		}
	}
	return n, classify(rows.Err())
}
