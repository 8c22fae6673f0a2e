package main

import (
	"context"

	"billing-api/internal/harness"
)

// benchPrefix starts the name of every database the harness creates, so
// one left behind (--keep, or a killed run) is recognisable.
const benchPrefix = "billing_bench_"

// createBenchDatabase creates an empty database through adminURL.
func createBenchDatabase(ctx context.Context, adminURL string) (*harness.Database, error) {
	return harness.CreateDatabase(ctx, adminURL, benchPrefix)
}

var (
	postgresVersion = harness.PostgresVersion
	redact          = harness.Redact
	cleanEnv        = harness.CleanEnv
	randomHex       = harness.RandomHex
)
