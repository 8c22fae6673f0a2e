package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/singleflight"

	"billing-api/server/clock"
	"billing-api/server/fault"
)

// Once a statement finds PostgreSQL gone (a refused or cut connection, the
// server shutting down), the store remembers it until a probe reaches the
// database again. Requests ask Reachable first, so during an outage every
// one of them is answered 503 — including reads a replica's one-second
// cache could still answer — and no request waits on a database that is not
// there for longer than one probe.
type reachability struct {
	// watch is set on PostgreSQL; SQLite has no outage of this kind.
	watch  bool
	lost   atomic.Bool
	flight singleflight.Group
	now    clock.Clock
	mu     sync.Mutex
	// failedAt and failure are the last failed probe's; requests within
	// ProbeEvery of it are refused without probing again.
	failedAt time.Time
	failure  error
}

const (
	// ProbeEvery spaces the probes while the database stays away.
	ProbeEvery = 100 * time.Millisecond
	// probeTimeout bounds one probe (a partitioned network never refuses).
	probeTimeout = time.Second
)

// observe notes a statement's error: a lost connection marks the database
// unreachable. Only a probe marks it reachable again, so a statement that
// happened to finish just before the outage cannot hide it.
func (r *reachability) observe(err error) {
	if r.watch && err != nil && connectionLost(err) && !r.lost.Load() {
		r.lost.Store(true)
	}
}

// Reachable answers nil while no statement has found the database gone.
// After one has, it probes the database (one probe at a time for all
// callers, at most one every ProbeEvery) and answers fault.Unavailable
// until a probe succeeds. SQLite is always reachable: a busy file is not an
// outage.
func (db *DB) Reachable(ctx context.Context) error {
	r := db.reach
	if !r.lost.Load() {
		return nil
	}
	r.mu.Lock()
	if !r.failedAt.IsZero() && r.now().Sub(r.failedAt) < ProbeEvery {
		err := r.failure
		r.mu.Unlock()
		return fault.Unavailable(err)
	}
	r.mu.Unlock()
	_, err, _ := r.flight.Do("probe", func() (any, error) {
		// The probe belongs to every caller waiting on it, not to the
		// first one's request.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), probeTimeout)
		defer cancel()
		err := db.Ping(pctx)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.failedAt, r.failure = r.now(), err
			return nil, err
		}
		r.failedAt, r.failure = time.Time{}, nil
		r.lost.Store(false)
		return nil, nil
	})
	if err != nil {
		return fault.Unavailable(err)
	}
	return nil
}

// connectionLost reports errors that mean the connection to PostgreSQL, or
// PostgreSQL itself, went away — not a cancelled or slow statement, a busy
// SQLite file or a full pool, which say nothing about the next connection.
func connectionLost(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	return connectionError(err)
}

// connectionError reports the errors of a connection that failed or broke:
// refused, cut (PostgreSQL went away mid-statement: a crash, an immediate
// shutdown), class 08, or the server shutting down (57P01–57P03).
func connectionError(err error) bool {
	var netErr net.Error
	var connErr *pgconn.ConnectError
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.As(err, &connErr), errors.As(err, &netErr):
		return true
	case errors.As(err, &pgErr):
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return false
}
