package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// usageBatch is the body of POST /admin/v1/usage_records: size records of
// tenant, ids "<batch>-<i>", spread over the hours before now, one unit
// each of its quantity pattern.
type usageBatch struct {
	ID    string
	Size  int
	Total int64 // the sum of its quantities
	Body  string
}

// usageSeries are the (type, unit, object) the batches cycle through.
var usageSeries = []struct{ Type, Unit, Object string }{
	{"lb_http_requests", "requests", "web"}, {"dns_queries", "queries", "zone-a"}, {"waap_requests", "requests", "shop"},
}

func newUsageBatch(tenant, id string, size int, now time.Time) usageBatch {
	var b strings.Builder
	b.WriteString(`{"records":[`)
	var total int64
	base := now.Truncate(time.Hour).Add(-48 * time.Hour)
	for i := range size {
		s := usageSeries[i%len(usageSeries)]
		q := int64(i%97 + 1)
		total += q
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"%s-%d","tenant":%q,"namespace":"system","usage_type":%q,"object_name":%q,"unit":%q,"quantity":%d,"timestamp":%q}`,
			id, i, tenant, s.Type, s.Object, s.Unit, q, base.Add(time.Duration(i%40)*time.Hour).Format(time.RFC3339))
	}
	b.WriteString("]}")
	return usageBatch{ID: id, Size: size, Total: total, Body: b.String()}
}

// storedBatches counts, per batch id (the record id before its last "-"),
// the records the database holds for the tenant.
func storedBatches(ctx context.Context, db *sql.DB, tenantID uuid.UUID) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT record_id FROM usage_records WHERE tenant_id = $1`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id[:strings.LastIndexByte(id, '-')]]++
	}
	return out, rows.Err()
}

// rollupMismatches compares the tenant's rollups with the raw records they
// sum: each hourly rollup with its hour's records, and each level's total
// with the records' total. It returns the number of disagreeing rollups
// (or levels) and the raw total.
func rollupMismatches(ctx context.Context, db *sql.DB, tenantID uuid.UUID) (int, int64, error) {
	n, err := count(ctx, db, `SELECT COUNT(*) FROM (
		SELECT usage_type, namespace, object_name, CAST(EXTRACT(EPOCH FROM date_trunc('hour', occurred_at)) AS BIGINT) AS bucket, SUM(quantity) AS q
		FROM usage_records WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4) raw
		FULL JOIN (SELECT usage_type, namespace, object_name, bucket, quantity FROM usage_rollups WHERE tenant_id = $1 AND level = 0) r
		USING (usage_type, namespace, object_name, bucket)
		WHERE raw.q IS DISTINCT FROM r.quantity`, tenantID)
	if err != nil {
		return 0, 0, err
	}
	var raw int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(quantity), 0) FROM usage_records WHERE tenant_id = $1`, tenantID).Scan(&raw); err != nil {
		return 0, 0, err
	}
	levels, err := count(ctx, db, `SELECT COUNT(*) FROM (SELECT level, SUM(quantity) AS q FROM usage_rollups WHERE tenant_id = $1 GROUP BY level) l
		WHERE l.q <> $2`, tenantID, raw)
	return n + levels, raw, err
}

// killDuringIngestion sends usage batches from several clients, kills the
// server mid-stream, restarts it, and counts: batches answered 200 but not
// all stored (lost), batches partly stored (half-stored), and rollups that
// disagree with the records they sum.
func killDuringIngestion(ctx context.Context, r *runner) ([]figure, error) {
	dbURL, err := r.database(ctx)
	if err != nil {
		return nil, err
	}
	a, err := r.app(ctx, dbURL, nil)
	if err != nil {
		return nil, err
	}
	t, _, err := tenant(ctx, a, "rel-usage")
	if err != nil {
		return nil, err
	}
	rounds, workers, size := r.cfg.scale(2, 5), 4, r.cfg.scale(500, 1000)
	warm := r.cfg.duration(1500*time.Millisecond, 4*time.Second)
	var mu sync.Mutex
	acked := map[string]bool{}
	sent := map[string]usageBatch{}
	srv, err := r.server("ingester-0", dbURL)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for round := range rounds {
		base := srv.URL
		killUnderLoad(ctx, srv, warm, func(stop <-chan struct{}) func() {
			wait, _ := writeLoad(workers, stop, func(w, i int) bool {
				b := newUsageBatch(t.Name, fmt.Sprintf("r%dw%db%d", round, w, i), size, now)
				mu.Lock()
				sent[b.ID] = b
				mu.Unlock()
				ans := call(ctx, http.MethodPost, base+"/admin/v1/usage_records", opsAuth, b.Body)
				if ans.Status == http.StatusOK {
					mu.Lock()
					acked[b.ID] = true
					mu.Unlock()
					return true
				}
				if ans.Status == 0 {
					<-stop
				}
				return false
			})
			return wait
		})
		if srv, err = r.server(fmt.Sprintf("ingester-%d", round+1), dbURL); err != nil {
			return nil, err
		}
	}
	stored, err := storedBatches(ctx, a.DB.SQL(), t.ID)
	if err != nil {
		return nil, err
	}
	lost, half, unacked := 0, 0, 0
	for id, b := range sent {
		n := stored[id]
		if acked[id] && n != b.Size {
			lost++
		}
		if n != 0 && n != b.Size {
			half++
		}
		if !acked[id] && n == b.Size {
			unacked++
		}
	}
	mismatches, _, err := rollupMismatches(ctx, a.DB.SQL(), t.ID)
	if err != nil {
		return nil, err
	}
	return []figure{
		measured("SIGKILLs under load", fmt.Sprintf("%d (%d clients, batches of %d records, each kill after %s)", rounds, workers, size, warm)),
		measured("batches sent / answered 200", fmt.Sprintf("%d / %d", len(sent), len(acked))),
		measured("batches cut off by a kill but stored whole (committed, answer lost)", fmt.Sprint(unacked)),
		mustBe("acknowledged batches lost (not all records stored)", lost, 0, fmt.Sprintf("of %d", len(acked))),
		mustBe("batches half-stored", half, 0, fmt.Sprintf("of %d sent", len(sent))),
		mustBe("rollups disagreeing with their raw records", mismatches, 0, ""),
	}, nil
}
