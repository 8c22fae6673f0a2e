package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// GORM's own warnings and errors keep the error text but not the values
// (such as a row's field) it formats into them.
func TestGormMessagesCarryNoValues(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	l := gormLogger{log: slog.New(slog.NewJSONHandler(&out, nil))}
	ctx := context.Background()
	l.Error(ctx, "failed to parse value %#v, got error %v", "secret-row-value", errors.New("bad syntax"))
	l.Warn(ctx, "value %v of %d", "secret-warn-value", 987654321)
	got := out.String()
	if strings.Contains(got, "secret-") || strings.Contains(got, "987654321") || strings.Contains(got, "%!") {
		t.Fatalf("GORM message carries a value:\n%s", got)
	}
	if !strings.Contains(got, "bad syntax") || !strings.Contains(got, "failed to parse value") {
		t.Fatalf("GORM message lost its text or error:\n%s", got)
	}
}
