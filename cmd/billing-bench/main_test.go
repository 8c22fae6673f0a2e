package main

import (
	"os"
	"testing"

	"billing-api/store/storetest"
)

// The seeding tests run on both stores (the services do not care which);
// the baseline's test needs PostgreSQL, as the harness does.
func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }
