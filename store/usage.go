package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"billing-api/server/fault"
	"billing-api/server/usage"
)

// Usage is the metering repository: set-based statements per batch (never a
// round trip per record), hand-written and the same on both stores.
type Usage struct {
	db *DB
	// partitions are the monthly partitions of usage_records known to exist
	// (PostgreSQL only).
	partitions sync.Map
}

// NewUsage returns the metering repository.
func NewUsage(db *DB) *Usage { return &Usage{db: db} }

// WithTx runs fn in one transaction.
func (u *Usage) WithTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return u.db.WithTx(ctx, fn)
}

// rowsPerStatement bounds a multi-row statement. On PostgreSQL the rows
// travel as arrays (a handful of parameters, whatever the count); on SQLite
// each row is a VALUES tuple, and the driver finds each parameter's
// argument by a linear search, so a statement's binding time grows with
// the square of its parameters: a hundred rows keep that negligible.
func (u *Usage) rowsPerStatement() int {
	if u.db.dialect == Postgres {
		return 5000
	}
	return 100
}

// sqliteValues renders n rows of width positional placeholders for a
// multi-row VALUES list on SQLite: (?,?),(?,?)...
func sqliteValues(n, width int) string {
	row := "(" + strings.Repeat("?,", width-1) + "?)"
	var b strings.Builder
	b.Grow(n * (len(row) + 1))
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// inList renders $from..$from+n-1 for an IN (...) list.
func inList(from, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(parts, ",")
}

// LockTenantsForIngest takes FOR KEY SHARE on the tenants' rows, in id
// order: it does not block quota writers (FOR NO KEY UPDATE) or other
// ingestion, only whoever locks a tenant FOR UPDATE, which closing a period
// does.
func (u *Usage) LockTenantsForIngest(ctx context.Context, ids []uuid.UUID) error {
	if u.db.dialect != Postgres || len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = u.db.id(id)
	}
	rows, err := u.db.query(ctx, "SELECT id FROM tenants WHERE id IN ("+inList(1, len(ids))+") ORDER BY id FOR KEY SHARE", args...)
	if err != nil {
		return err
	}
	return closeRows(rows)
}

func closeRows(rows *sql.Rows) error {
	for rows.Next() {
	}
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return classify(err)
}

// InsertRecords keeps the records whose (tenant, id) was never seen: the
// ids go into usage_record_ids first (duplicates skipped, the new ones
// returned), then the new records into usage_records.
func (u *Usage) InsertRecords(ctx context.Context, recs []usage.Record, received time.Time) ([]bool, error) {
	if err := u.ensurePartitions(ctx, recs); err != nil {
		return nil, err
	}
	type key struct {
		tenant uuid.UUID
		id     string
	}
	fresh := make(map[key]bool, len(recs))
	// Ids go in sorted: a concurrent batch holding some of the same ids
	// then waits in the same order, never in a cycle (a deadlock).
	sorted := slices.Clone(recs)
	slices.SortFunc(sorted, func(a, b usage.Record) int {
		if c := bytes.Compare(a.TenantID[:], b.TenantID[:]); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	per := u.rowsPerStatement()
	for start := 0; start < len(sorted); start += per {
		chunk := sorted[start:min(start+per, len(sorted))]
		var (
			stmt string
			args []any
		)
		if u.db.dialect == Postgres {
			tenants, ids := make([][16]byte, len(chunk)), make([]string, len(chunk))
			for i, r := range chunk {
				tenants[i], ids[i] = r.TenantID, r.ID
			}
			stmt = "INSERT INTO usage_record_ids (tenant_id, record_id) SELECT * FROM unnest($1::uuid[], $2::text[])"
			args = []any{tenants, ids}
		} else {
			stmt = "INSERT INTO usage_record_ids (tenant_id, record_id) VALUES " + sqliteValues(len(chunk), 2)
			for _, r := range chunk {
				args = append(args, u.db.id(r.TenantID), r.ID)
			}
		}
		rows, err := u.db.query(ctx, stmt+" ON CONFLICT DO NOTHING RETURNING tenant_id, record_id", args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.tenant, &k.id); err != nil {
				rows.Close()
				return nil, classify(err)
			}
			fresh[k] = true
		}
		if err := closeRows(rows); err != nil {
			return nil, err
		}
	}
	out := make([]bool, len(recs))
	keep := make([]usage.Record, 0, len(fresh))
	for i, r := range recs {
		if out[i] = fresh[key{r.TenantID, r.ID}]; out[i] {
			keep = append(keep, r)
		}
	}
	for start := 0; start < len(keep); start += per {
		if err := u.insertRaw(ctx, keep[start:min(start+per, len(keep))], received); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const rawColumns = "tenant_id, record_id, namespace, usage_type, object_name, unit, quantity, occurred_at, late, received_at"

// insertRaw stores records in one statement: on PostgreSQL as arrays
// unnested server-side (ten parameters, however many rows), elsewhere as a
// multi-row VALUES list.
func (u *Usage) insertRaw(ctx context.Context, chunk []usage.Record, received time.Time) error {
	if u.db.dialect == Postgres {
		n := len(chunk)
		tenants, ids, nss, types, objs, units := make([][16]byte, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		qs, ats, late := make([]int64, n), make([]time.Time, n), make([]bool, n)
		for i, r := range chunk {
			tenants[i], ids[i], nss[i], types[i], objs[i], units[i] = r.TenantID, r.ID, r.Namespace, r.UsageType, r.ObjectName, r.Unit
			qs[i], ats[i], late[i] = int64(r.Quantity), r.At, r.Late
		}
		_, err := u.db.exec(ctx, "INSERT INTO usage_records ("+rawColumns+") SELECT t, i, n, u, o, un, q, a, l, $10 FROM unnest("+
			"$1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::timestamptz[], $9::boolean[]) AS x(t, i, n, u, o, un, q, a, l)",
			tenants, ids, nss, types, objs, units, qs, ats, late, received)
		return err
	}
	const width = 10
	args := make([]any, 0, width*len(chunk))
	for _, r := range chunk {
		args = append(args, u.db.id(r.TenantID), r.ID, r.Namespace, r.UsageType, r.ObjectName, r.Unit,
			int64(r.Quantity), r.At, r.Late, received)
	}
	_, err := u.db.exec(ctx, "INSERT INTO usage_records ("+rawColumns+") VALUES "+sqliteValues(len(chunk), width), args...)
	return err
}

// ensurePartitions creates the monthly partitions of usage_records the
// records need, each in its own statement outside the batch's transaction
// (creating a partition locks the parent table; doing it first keeps
// concurrent batches from waiting on each other in a cycle). Another
// replica creating the same partition at once is not an error.
func (u *Usage) ensurePartitions(ctx context.Context, recs []usage.Record) error {
	if u.db.dialect != Postgres {
		return nil
	}
	for _, r := range recs {
		m := r.Month()
		if _, ok := u.partitions.Load(m); ok {
			continue
		}
		name := fmt.Sprintf("usage_records_%04d_%02d", m.Year(), m.Number())
		stmt := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF usage_records FOR VALUES FROM ('%s') TO ('%s')",
			name, m.Start().Format(time.RFC3339), m.End().Format(time.RFC3339))
		if _, err := u.db.sqlDB.ExecContext(ctx, stmt); err != nil && !alreadyExists(err) {
			return classify(err)
		}
		u.partitions.Store(m, true)
	}
	return nil
}

// alreadyExists reports a concurrent creation of the same table.
func alreadyExists(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P07" || pgErr.Code == "23505")
}

// AddRollups adds the increments in one statement per chunk of rollups,
// in the order given (Fold sorts them, so concurrent batches lock shared
// rows in one order). A rollup that would pass its maximum fails the batch.
func (u *Usage) AddRollups(ctx context.Context, rs []usage.Rollup) error {
	const upsert = " ON CONFLICT (tenant_id, level, bucket, usage_type, namespace, object_name) DO UPDATE SET " +
		"quantity = usage_rollups.quantity + excluded.quantity, late_quantity = usage_rollups.late_quantity + excluded.late_quantity"
	const columns = "INSERT INTO usage_rollups (tenant_id, level, bucket, usage_type, namespace, object_name, quantity, late_quantity) "
	per := u.rowsPerStatement()
	for start := 0; start < len(rs); start += per {
		chunk := rs[start:min(start+per, len(rs))]
		var err error
		if u.db.dialect == Postgres {
			n := len(chunk)
			tenants, levels, buckets := make([][16]byte, n), make([]int16, n), make([]int64, n)
			types, nss, objs, qs, late := make([]string, n), make([]string, n), make([]string, n), make([]int64, n), make([]int64, n)
			for i, r := range chunk {
				tenants[i], levels[i], buckets[i] = r.TenantID, int16(r.Level), r.Bucket.Unix()
				types[i], nss[i], objs[i], qs[i], late[i] = r.UsageType, r.Namespace, r.ObjectName, int64(r.Quantity), int64(r.Late)
			}
			// unnest keeps the rows in array order: the key order Fold gave.
			_, err = u.db.exec(ctx, columns+"SELECT * FROM unnest($1::uuid[], $2::smallint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])"+upsert,
				tenants, levels, buckets, types, nss, objs, qs, late)
		} else {
			const width = 8
			args := make([]any, 0, width*len(chunk))
			for _, r := range chunk {
				args = append(args, u.db.id(r.TenantID), int(r.Level), r.Bucket.Unix(), r.UsageType, r.Namespace, r.ObjectName,
					int64(r.Quantity), int64(r.Late))
			}
			_, err = u.db.exec(ctx, columns+"VALUES "+sqliteValues(len(chunk), width)+upsert, args...)
		}
		if err != nil {
			if outOfRange(err) {
				return fault.Conflictf("a usage total would pass its maximum (%s units per series and hour)", usage.MaxRollupQuantity)
			}
			return err
		}
	}
	return nil
}

// outOfRange reports a CHECK or integer-range failure of a rollup sum.
func outOfRange(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23514" || pgErr.Code == "22003"
	}
	return strings.Contains(err.Error(), "CHECK constraint failed") || strings.Contains(err.Error(), "integer overflow")
}

// segmentFilter renders the segments as one condition on level and bucket,
// its placeholders numbered from first.
func segmentFilter(segs []usage.Segment, first int) (string, []any) {
	parts := make([]string, len(segs))
	args := make([]any, 0, 3*len(segs))
	for i, s := range segs {
		n := first + 3*i
		parts[i] = fmt.Sprintf("(level = $%d AND bucket >= $%d AND bucket < $%d)", n, n+1, n+2)
		args = append(args, int(s.Level), s.From.Unix(), s.To.Unix())
	}
	if len(parts) == 0 {
		return "FALSE", nil
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// summed is the rollup column expression a sum counts.
func summed(c usage.Counting) string {
	if c == usage.BilledUsage {
		return "quantity - late_quantity"
	}
	return "quantity"
}

// SumSeries sums rollups per series over the segments.
func (u *Usage) SumSeries(ctx context.Context, tenantID uuid.UUID, namespace string, segs []usage.Segment, c usage.Counting) (map[usage.Series]usage.Quantity, error) {
	args := []any{u.db.id(tenantID)}
	where := "tenant_id = $1"
	if namespace != "" {
		args = append(args, namespace)
		where += " AND namespace = $2"
	}
	cond, segArgs := segmentFilter(segs, len(args)+1)
	return seriesSums(u.db.query(ctx, "SELECT usage_type, namespace, object_name, CAST(SUM("+summed(c)+") AS BIGINT) FROM usage_rollups WHERE "+
		where+" AND "+cond+" GROUP BY usage_type, namespace, object_name", append(args, segArgs...)...))
}

// seriesSums reads (usage_type, namespace, object_name, sum) rows.
func seriesSums(rows *sql.Rows, err error) (map[usage.Series]usage.Quantity, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[usage.Series]usage.Quantity{}
	for rows.Next() {
		var s usage.Series
		var q int64
		if err := rows.Scan(&s.UsageType, &s.Namespace, &s.ObjectName, &q); err != nil {
			return nil, classify(err)
		}
		out[s] = usage.Quantity(q)
	}
	return out, classify(rows.Err())
}

// SumTypes sums rollups per usage type over the segments.
func (u *Usage) SumTypes(ctx context.Context, tenantID uuid.UUID, segs []usage.Segment, c usage.Counting) (map[string]usage.Quantity, error) {
	cond, segArgs := segmentFilter(segs, 2)
	return typeSums(u.db.query(ctx, "SELECT usage_type, CAST(SUM("+summed(c)+") AS BIGINT) FROM usage_rollups WHERE tenant_id = $1 AND "+
		cond+" GROUP BY usage_type", append([]any{u.db.id(tenantID)}, segArgs...)...))
}

// LateTypes sums the month's late quantities per usage type.
func (u *Usage) LateTypes(ctx context.Context, tenantID uuid.UUID, month time.Time) (map[string]usage.Quantity, error) {
	return typeSums(u.db.query(ctx, "SELECT usage_type, CAST(SUM(late_quantity) AS BIGINT) FROM usage_rollups WHERE tenant_id = $1 AND level = $2 "+
		"AND bucket = $3 AND late_quantity > 0 GROUP BY usage_type", u.db.id(tenantID), int(usage.LevelMonth), month.Unix()))
}

// typeSums reads (usage_type, sum) rows.
func typeSums(rows *sql.Rows, err error) (map[string]usage.Quantity, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]usage.Quantity{}
	for rows.Next() {
		var t string
		var q int64
		if err := rows.Scan(&t, &q); err != nil {
			return nil, classify(err)
		}
		out[t] = usage.Quantity(q)
	}
	return out, classify(rows.Err())
}

// HourlySeries returns a series' hourly rollups in [from, to).
func (u *Usage) HourlySeries(ctx context.Context, tenantID uuid.UUID, s usage.Series, from, to time.Time, limit int) ([]usage.Rollup, error) {
	// level = 0 (LevelHour) is written out: the series index is partial.
	rows, err := u.db.query(ctx, "SELECT bucket, quantity, late_quantity FROM usage_rollups WHERE tenant_id = $1 AND usage_type = $2 AND namespace = $3 "+
		"AND object_name = $4 AND level = 0 AND bucket >= $5 AND bucket < $6 ORDER BY bucket LIMIT $7",
		u.db.id(tenantID), s.UsageType, s.Namespace, s.ObjectName, from.Unix(), to.Unix(), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []usage.Rollup
	for rows.Next() {
		r := usage.Rollup{TenantID: tenantID, Level: usage.LevelHour, Series: s}
		var bucket, q, late int64
		if err := rows.Scan(&bucket, &q, &late); err != nil {
			return nil, classify(err)
		}
		r.Bucket, r.Quantity, r.Late = time.Unix(bucket, 0).UTC(), usage.Quantity(q), usage.Quantity(late)
		out = append(out, r)
	}
	return out, classify(rows.Err())
}

// SigningKeys returns the keys not retired, newest first.
func (u *Usage) SigningKeys(ctx context.Context) ([]usage.SigningKey, error) {
	rows, err := u.db.query(ctx, "SELECT id, secret FROM signing_keys WHERE retired_at IS NULL ORDER BY id DESC")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []usage.SigningKey
	for rows.Next() {
		var k usage.SigningKey
		if err := rows.Scan(&k.ID, &k.Secret); err != nil {
			return nil, classify(err)
		}
		out = append(out, k)
	}
	return out, classify(rows.Err())
}

// AddSigningKey stores a new key.
func (u *Usage) AddSigningKey(ctx context.Context, secret []byte, at time.Time) (usage.SigningKey, error) {
	k := usage.SigningKey{Secret: secret}
	rows, err := u.db.query(ctx, "INSERT INTO signing_keys (secret, created_at) VALUES ($1, $2) RETURNING id", secret, at)
	if err != nil {
		return k, err
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&k.ID); err != nil {
			return k, classify(err)
		}
	}
	return k, classify(rows.Err())
}

// RetireSigningKeys retires every key but keep.
func (u *Usage) RetireSigningKeys(ctx context.Context, keep int64, at time.Time) (int, error) {
	res, err := u.db.exec(ctx, "UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND id <> $2", at, keep)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), classify(err)
}

// RawSums sums the raw records of a tenant that occurred in [from, to), per
// series: the ground truth the rollups must equal (for reconciliation; no
// request path reads the raw table).
func (u *Usage) RawSums(ctx context.Context, tenantID uuid.UUID, from, to time.Time) (map[usage.Series]usage.Quantity, error) {
	return seriesSums(u.db.query(ctx, "SELECT usage_type, namespace, object_name, CAST(SUM(quantity) AS BIGINT) FROM usage_records "+
		"WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3 GROUP BY usage_type, namespace, object_name",
		u.db.id(tenantID), from.UTC(), to.UTC()))
}
