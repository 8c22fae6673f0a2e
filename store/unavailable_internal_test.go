package store

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"billing-api/server/fault"
)

// A connection PostgreSQL dropped mid-statement (a crash, an immediate
// shutdown) is the database being unavailable, answered 503 with
// Retry-After, never a 500. The fault harness's outage scenario found both
// errors answered 500.
func TestConnectionsCutMidStatementAreUnavailable(t *testing.T) {
	for _, err := range []error{
		io.ErrUnexpectedEOF,
		fmt.Errorf("reading the answer: %w", io.ErrUnexpectedEOF),
		fmt.Errorf("begin: %w", pgconn.ErrConnClosed),
	} {
		if got := fault.KindOf(classify(err)); got != fault.KindUnavailable {
			t.Errorf("%v: %s, want unavailable", err, got)
		}
	}
	if got := fault.KindOf(classify(errors.New("syntax error"))); got != fault.KindInternal {
		t.Errorf("an ordinary error: %s", got)
	}
}
