package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"
)

// The baseline is the least a service on the same stack (Echo v4, a pgx
// pool of the server's default size, the same PostgreSQL) can do per
// request. It runs as its own process, like the server, so both pay for
// their own HTTP stack and their memory can be told apart. The ratio of the
// server to it is the price of everything the server does beyond the
// minimum: authentication, namespace checks, rate limiting, validation,
// more queries, GORM.

const (
	baselineTable = "bench_baseline"
	baselineRows  = 10_000
	// baselinePoolSize is the server's default PostgreSQL pool size.
	baselinePoolSize = 20
	baselineBanner   = "billing-bench baseline serving on "
	// baselineUsageTable is what the baseline copies usage records into:
	// usage_records' columns and primary key, unpartitioned, without
	// usage_record_ids or rollups beside it.
	baselineUsageTable = "bench_usage_records"
)

// createBaselineTable creates and fills the baseline's table in the bench
// database. Its rows carry a payload shaped like a quota object's, so the
// JSON the baseline encodes is of a comparable size.
func createBaselineTable(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `
CREATE TABLE `+baselineTable+` (id BIGINT PRIMARY KEY, tenant UUID, name TEXT, payload JSONB);
INSERT INTO `+baselineTable+`
SELECT g, gen_random_uuid(), 'item-' || g, jsonb_build_object(
	'labels', jsonb_build_object('team', (ARRAY['web','data','ops'])[1 + g % 3], 'env', 'prod'),
	'description', 'Seeded limits ' || g || '.',
	'spec', jsonb_build_object(
		'object_limits', jsonb_build_object('origin_pool', jsonb_build_object('maximum', 100 + g % 100),
			'http_loadbalancer', jsonb_build_object('maximum', 50)),
		'resource_limits', jsonb_build_object('storage_gib', jsonb_build_object('maximum', 500))))
FROM generate_series(1, `+strconv.Itoa(baselineRows)+`) AS g;
ANALYZE `+baselineTable+`;
CREATE TABLE `+baselineUsageTable+` (
	tenant_id UUID NOT NULL,
	record_id TEXT NOT NULL,
	namespace TEXT NOT NULL,
	usage_type TEXT NOT NULL,
	object_name TEXT NOT NULL,
	unit TEXT NOT NULL,
	quantity BIGINT NOT NULL CHECK (quantity >= 0),
	occurred_at TIMESTAMPTZ NOT NULL,
	late BOOLEAN NOT NULL,
	received_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (tenant_id, record_id, occurred_at));`)
	return err
}

// fillBaselineUsage copies the seeded usage records into the baseline's
// usage table, so the index its COPY extends is as large as the one the
// server's ingestion extends.
func fillBaselineUsage(ctx context.Context, conn *pgx.Conn) (int64, error) {
	tag, err := conn.Exec(ctx, `INSERT INTO `+baselineUsageTable+` SELECT tenant_id, record_id, namespace, usage_type,
		object_name, unit, quantity, occurred_at, late, received_at FROM usage_records`)
	return tag.RowsAffected(), err
}

func newBaselineCommand() *cobra.Command {
	var listen, dbURL string
	var tenantFlags []string
	cmd := &cobra.Command{
		Use:    "baseline",
		Short:  "Serve the baseline the server is compared to (started by the harness itself)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenants := map[string]uuid.UUID{}
			for _, kv := range tenantFlags {
				name, raw, _ := strings.Cut(kv, "=")
				id, err := uuid.Parse(raw)
				if err != nil || name == "" {
					return fmt.Errorf("--tenant %q: want name=uuid", kv)
				}
				tenants[name] = id
			}
			return serveBaseline(cmd.Context(), listen, dbURL, tenants)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:0", "address to listen on")
	cmd.Flags().StringVar(&dbURL, "database-url", "", "the bench database (postgres:// URL)")
	cmd.Flags().StringArrayVar(&tenantFlags, "tenant", nil, "name=uuid of a tenant whose usage records the baseline copies (repeatable)")
	return cmd
}

// serveBaseline serves until ctx ends, after printing its banner.
func serveBaseline(ctx context.Context, listen, dbURL string, tenants map[string]uuid.UUID) error {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = baselinePoolSize
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// The server's own timeouts, so neither has a cheaper connection handling.
	srv := &http.Server{
		Handler:           newBaselineHandler(pool, tenants),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	fmt.Fprintf(os.Stdout, "%shttp://%s\n", baselineBanner, ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// baselineItem is a row of the baseline table, as read and written.
type baselineItem struct {
	ID      int64           `json:"id"`
	Tenant  uuid.UUID       `json:"tenant"`
	Name    string          `json:"name"`
	Payload json.RawMessage `json:"payload"`
}

// baselineUsageRecord is a usage record as the operator API takes it.
type baselineUsageRecord struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Namespace  string    `json:"namespace"`
	UsageType  string    `json:"usage_type"`
	ObjectName string    `json:"object_name"`
	Unit       string    `json:"unit"`
	Quantity   float64   `json:"quantity"`
	Timestamp  time.Time `json:"timestamp"`
}

// newBaselineHandler builds the baseline's routes. It has no middleware:
// the server's request ids, logs, metrics and panic recovery are part of
// what the comparison prices. tenants resolves the tenant names of usage
// records (the server resolves them from its cache too).
func newBaselineHandler(pool *pgxpool.Pool, tenants map[string]uuid.UUID) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true

	// Counterpart of /healthz: a constant JSON answer, no database, so the
	// pair compares only the HTTP stack and the routing around it.
	e.GET("/ping", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})

	// Counterpart of every tenant read: one primary-key SELECT and one
	// JSON encoding is the least a read served from the database can cost,
	// whatever the server needs beyond it (token lookup, namespace check,
	// limits, several queries) is what the ratio shows.
	e.GET("/items/:id", func(c echo.Context) error {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"message": "id must be an integer"})
		}
		it := baselineItem{ID: id}
		err = pool.QueryRow(c.Request().Context(),
			`SELECT tenant, name, payload FROM `+baselineTable+` WHERE id = $1`, id).Scan(&it.Tenant, &it.Name, &it.Payload)
		if errors.Is(err, pgx.ErrNoRows) {
			return c.JSON(http.StatusNotFound, map[string]string{"message": "no such item"})
		}
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, it)
	})

	// Counterpart of replaceQuota: decoding a JSON body and one committed
	// single-row upsert (one durable commit, as the server's write has) is
	// the least a durable write can cost.
	e.PUT("/items/:id", func(c echo.Context) error {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil {
			return c.JSON(http.StatusBadRequest, map[string]string{"message": "id must be an integer"})
		}
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
		if err != nil {
			return err
		}
		it := baselineItem{ID: id}
		if err := json.Unmarshal(body, &it); err != nil || it.Name == "" || len(it.Payload) == 0 {
			return c.JSON(http.StatusBadRequest, map[string]string{"message": "body must be {tenant, name, payload}"})
		}
		it.ID = id
		if _, err := pool.Exec(c.Request().Context(),
			`INSERT INTO `+baselineTable+` (id, tenant, name, payload) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (id) DO UPDATE SET tenant = EXCLUDED.tenant, name = EXCLUDED.name, payload = EXCLUDED.payload`,
			it.ID, it.Tenant, it.Name, it.Payload); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, it)
	})

	// Counterpart of ingestUsage: the same body decoded into the same
	// records, quantities kept in millionths as the server keeps them, and
	// one COPY of them into a table with usage_records' columns and primary
	// key, committed. It is the least storing a batch of records durably can
	// cost; the server's price on top of it is its checks, the idempotency
	// ids, the partitions and the rollups, all in one transaction.
	e.POST("/usage_records", func(c echo.Context) error {
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, 16<<20))
		if err != nil {
			return err
		}
		var batch struct {
			Records []baselineUsageRecord `json:"records"`
		}
		if err := json.Unmarshal(body, &batch); err != nil || len(batch.Records) == 0 {
			return c.JSON(http.StatusBadRequest, map[string]string{"message": "body must be {records: [...]}"})
		}
		received := time.Now()
		rows := make([][]any, len(batch.Records))
		for i, r := range batch.Records {
			id, ok := tenants[r.Tenant]
			if !ok {
				return c.JSON(http.StatusBadRequest, map[string]string{"message": fmt.Sprintf("records[%d]: no tenant %q", i, r.Tenant)})
			}
			rows[i] = []any{id, r.ID, r.Namespace, r.UsageType, r.ObjectName, r.Unit,
				int64(math.RoundToEven(r.Quantity * 1e6)), r.Timestamp, false, received}
		}
		n, err := pool.CopyFrom(c.Request().Context(), pgx.Identifier{baselineUsageTable},
			[]string{"tenant_id", "record_id", "namespace", "usage_type", "object_name", "unit", "quantity", "occurred_at", "late", "received_at"},
			pgx.CopyFromRows(rows))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]int64{"accepted": n})
	})
	return e
}
