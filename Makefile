# billing-api — what each target does: README.md (run, test), docs/code-generation.md,
# docs/testing.md (race, fuzz, CI), docs/benchmarks.md (bench), docs/reliability.md
# (reliability), docs/sdks.md (tools).
SHELL := /bin/bash
GO ?= go
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true

# The PostgreSQL the second test pass uses (each test gets a throw-away database).
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable

.PHONY: all build run generate sdk sdk-types check-generated golden breaking lint lint-spec staticcheck tools test race fuzz fuzz-smoke vet vendor-swagger-ui check-swagger-ui bench bench-smoke bench-binary reliability reliability-smoke reliability-binary

all: build

build:
	$(GO) build -o bin/billing-api ./cmd/billing-api

## run: build and serve on the embedded SQLite store with a demo tenant and token
run: build
	./bin/billing-api serve --demo

## generate: regenerate gen/ from the specs in openapi/ (never edit gen/ by hand)
generate:
	$(GO) generate ./gen/...

## sdk: regenerate the clients of openapi/billing.yaml: the Go client (gen/client) and
## the TypeScript SDK's types (sdk/typescript/src/schema.ts, by openapi-typescript)
sdk: sdk-types
	$(GO) generate ./gen/client

# openapi-typescript runs in the SDK's directory: in the root it would take
# redocly.yaml's APIs instead of its argument.
sdk-types: tools
	npm run --silent --workspace sdk/typescript generate

GENERATED := gen/ sdk/typescript/src/schema.ts

## check-generated: fail if gen/ or the TypeScript SDK's types differ from what
## `make generate` and `make sdk` produce
check-generated: generate sdk-types
	@if ! git diff --quiet --exit-code -- $(GENERATED) || [ -n "$$(git status --porcelain --untracked-files=all -- $(GENERATED))" ]; then \
		echo "generated code is out of date with openapi/: run 'make generate sdk' and commit the result" >&2; \
		git status --short -- $(GENERATED) >&2; git --no-pager diff --stat -- $(GENERATED) >&2; exit 1; \
	fi
	@echo "gen/ and sdk/typescript/src/schema.ts are up to date"

## golden: rewrite openapi/*.summary.txt after a deliberate contract change
golden:
	$(GO) test ./openapi -run TestContractSummary -update

## breaking: list what openapi/billing.yaml breaks for clients of the released copy
## (openapi/released/billing.yaml), with the oasdiff pinned in tools.go; fails on any ERR.
## `make test` runs the same check as a Go test (openapi/breaking_test.go).
breaking:
	$(GO) run github.com/oasdiff/oasdiff breaking --fail-on ERR openapi/released/billing.yaml openapi/billing.yaml

## tools: install the pinned Node tools (spec linter, Swagger UI assets) and the
## TypeScript SDK's dependencies (an npm workspace: one lock file, one install)
tools: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json sdk/typescript/package.json
	npm ci --no-audit --no-fund --ignore-scripts

## lint-spec: lint the specs with @redocly/cli (zero errors allowed)
lint-spec: tools
	npx --no-install redocly lint --format=summary

vet:
	$(GO) vet ./...

## staticcheck: the Go linter, at the version tools.go pins (no separate install)
staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck ./...

## lint: go vet, staticcheck and the spec linter
lint: vet staticcheck lint-spec

## test: the whole suite on SQLite, then again on PostgreSQL when it is reachable
## (always under CI=true, where an unreachable PostgreSQL fails the run), then the
## store, jobs and contract tests through PgBouncer when BILLING_TEST_PGBOUNCER_URL is set
## (always under CI=true)
test: vet
	@mkdir -p bin && rm -f $(CONTRACT_REPORT)
	BILLING_CONTRACT_REPORT=$(CURDIR)/$(CONTRACT_REPORT) BILLING_TEST_PGBOUNCER_URL= $(GO) test -count=1 ./...
	@if [ "$$CI" = "true" ] || pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then \
		echo "== the same suite on PostgreSQL"; \
		BILLING_CONTRACT_REPORT=$(CURDIR)/$(CONTRACT_REPORT) BILLING_TEST_POSTGRES_URL='$(PG_TEST_URL)' BILLING_TEST_PGBOUNCER_URL= $(GO) test -count=1 ./...; \
	else \
		echo "PostgreSQL is not reachable on 127.0.0.1:5432: skipped the PostgreSQL pass (CI=true makes it mandatory)"; \
	fi
	@if [ -n "$$BILLING_TEST_PGBOUNCER_URL" ]; then \
		echo "== the store, the job engine and the contract, replica and concurrency tests through PgBouncer (transaction pooling)"; \
		export BILLING_CONTRACT_REPORT=$(CURDIR)/$(CONTRACT_REPORT) BILLING_TEST_POSTGRES_URL='$(PG_TEST_URL)'; \
		$(GO) test -count=1 $(PGBOUNCER_PKGS) && $(GO) test -count=1 -run '$(PGBOUNCER_SERVER_TESTS)' ./server; \
	elif [ "$$CI" = "true" ]; then \
		echo "CI=true needs BILLING_TEST_PGBOUNCER_URL (a PgBouncer in transaction mode; .ci/pgbouncer.sh starts one)" >&2; exit 1; \
	else \
		echo "BILLING_TEST_PGBOUNCER_URL is not set: skipped the PgBouncer pass (see docs/testing.md)"; \
	fi
	@echo "== what the contract suite exercised"; cat $(CONTRACT_REPORT)

# Where TestContractSuite writes what it exercised (one line per store).
CONTRACT_REPORT := bin/contract-suite.txt

# The PgBouncer pass (with BILLING_TEST_PGBOUNCER_URL): these packages whole, and the
# server tests whose names match PGBOUNCER_SERVER_TESTS (the contract suite, the
# outage, replicas and concurrency) — the rest of the server's tests add time, not
# different statements.
PGBOUNCER_PKGS := ./store ./server/jobs
PGBOUNCER_SERVER_TESTS := TestContractSuite|TestDuringADatabaseOutage|Replica|Concurrent|Race

# The packages with the server, the domain rules and the store: what the
# race detector watches (the binary's tests drive subprocesses it cannot see). Of the
# server package, the tests that make requests race each other — concurrent reads of
# cached results, replicas on one database, interleaved subscribes and transitions,
# shared rate limits, the outage — and the contract suite (every handler once); its
# other tests send one request at a time and add minutes, not races
# (`make race RACE_SERVER_TESTS=.` runs them all).
RACE_PKGS := $(filter-out billing-api/server,$(shell $(GO) list ./server/... ./store/... 2>/dev/null))
RACE_SERVER_TESTS ?= Concurrent|Replica|Race|Parallel|Two|Interleav|Cached|Overlap|Lock|Outage|Jobs|Waits|AtOnce|ContractSuite
# With PostgreSQL, the SQLite race pass keeps to the code that differs by store (the
# store and the job engine's drivers): on SQLite the detector also instruments the
# pure-Go SQLite engine, which makes the server's tests three times slower there
# (about 240 s against 85 s) while watching none more of our code.
RACE_SQLITE_PKGS := ./store/... ./server/jobs

## race: under the race detector, on PostgreSQL, the domain, store and job packages and
## the server tests that race (RACE_SERVER_TESTS), then the store and job packages on
## SQLite; without a reachable PostgreSQL (and CI unset), all of it on SQLite
race:
	@if [ "$$CI" = "true" ] || pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then \
		echo "== under the race detector on PostgreSQL"; \
		export BILLING_TEST_POSTGRES_URL='$(PG_TEST_URL)' BILLING_TEST_PGBOUNCER_URL=; \
		$(GO) test -race -count=1 $(RACE_PKGS) && \
		$(GO) test -race -count=1 -run '$(RACE_SERVER_TESTS)' ./server && \
		echo "== $(RACE_SQLITE_PKGS) under the race detector on SQLite" && \
		BILLING_TEST_POSTGRES_URL= $(GO) test -race -count=1 $(RACE_SQLITE_PKGS); \
	else \
		echo "PostgreSQL is not reachable on 127.0.0.1:5432: the race pass on SQLite (CI=true makes PostgreSQL mandatory)"; \
		export BILLING_TEST_PGBOUNCER_URL=; \
		$(GO) test -race -count=1 $(RACE_PKGS) && $(GO) test -race -count=1 -run '$(RACE_SERVER_TESTS)' ./server; \
	fi

# The harness's database: BILLING_BENCH_DATABASE_URL when set, else the tests' PostgreSQL.
BENCH_RUN = BILLING_BENCH_DATABASE_URL="$${BILLING_BENCH_DATABASE_URL:-$(PG_TEST_URL)}" ./bin/billing-bench --server-binary bin/billing-api
# Extra harness flags, say BENCH_FLAGS='--rounds 5 --keep'.
BENCH_FLAGS ?=

bench-binary:
	$(GO) build -o bin/billing-bench ./cmd/billing-bench

## bench: the server binary against a minimal Echo + pgx baseline under HTTP load, on a
## fresh PostgreSQL database (about eight minutes); the report also goes to bin/bench.json
bench: build bench-binary
	$(BENCH_RUN) --json bin/bench.json $(BENCH_FLAGS)

## bench-smoke: the same run, short, on 50 tenants and four days of usage records (not 90:
## ingesting those takes longer than the whole smoke; four, so ingestUsage's 16 batches in
## flight, five hours each, never share an hour), to prove the harness works (CI; the
## numbers are printed, never checked)
bench-smoke: build bench-binary
	$(BENCH_RUN) --rounds 1 --warmup 100ms --duration 400ms --tenants 50 --usage-days 4 --json bin/bench-smoke.json $(BENCH_FLAGS)

# The fault harness's PostgreSQL (it creates and drops its own databases there; the
# outage scenario makes a scratch cluster of its own): BILLING_RELIABILITY_DATABASE_URL
# when set, else the tests' PostgreSQL.
RELIABILITY_RUN = BILLING_RELIABILITY_DATABASE_URL="$${BILLING_RELIABILITY_DATABASE_URL:-$(PG_TEST_URL)}" ./bin/billing-reliability --server-binary bin/billing-api
# Extra harness flags, say RELIABILITY_FLAGS='--only kill-close,replicas'.
RELIABILITY_FLAGS ?=

reliability-binary:
	$(GO) build -o bin/billing-reliability ./cmd/billing-reliability

## reliability: the fault harness's full run (SIGKILLs mid-write, PostgreSQL and Redis
## outages, two replicas, slow clients; about three minutes), which rewrites RELIABILITY.md
reliability: build reliability-binary
	$(RELIABILITY_RUN) --report RELIABILITY.md --command 'make reliability' $(RELIABILITY_FLAGS)

## reliability-smoke: the same scenarios, short (CI; about a minute and a half); the
## figures go to bin/reliability-smoke.md and any figure off its mark fails the run
reliability-smoke: build reliability-binary
	$(RELIABILITY_RUN) --short --report bin/reliability-smoke.md --command 'make reliability-smoke' $(RELIABILITY_FLAGS)

# The fuzz targets, as package:Target; each runs on its own (go test fuzzes one
# target at a time).
FUZZ_TARGETS := ./server:FuzzRequestDecoding ./server/quota:FuzzParseSelector \
	./server/usage:FuzzBreakdownQueryOpen ./server/usage:FuzzBreakdownQueryRoundTrip ./store:FuzzStringMapDecoding
# How long `make fuzz` runs each target (a Go duration, or a count such as 10000x).
FUZZTIME ?= 1m
# How much CI runs each (`make fuzz-smoke`): a count of inputs, not a duration. A
# duration ends on a deadline that Go 1.26's fuzzing coordinator can report as the
# target's failure ("context deadline exceeded", golang/go#75804, fixed in Go 1.27)
# when a worker is mid-input on a loaded machine; a count has no deadline to race.
FUZZ_SMOKE_TIME ?= 10000x

## fuzz: run every fuzz target for FUZZTIME each (default 1m: `make fuzz FUZZTIME=10m`);
## an input that fails is saved under the package's testdata/fuzz/ and then replays in
## `make test` once committed
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "== $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		$(GO) test -run='^$$' -fuzz="^$${t#*:}\$$" -fuzztime=$(FUZZTIME) $${t%%:*}; \
	done

## fuzz-smoke: every fuzz target for FUZZ_SMOKE_TIME inputs each (CI)
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SMOKE_TIME)

SWAGGER_UI_FILES := swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui-standalone-preset.js \
	swagger-ui-standalone-preset.js.LICENSE.txt swagger-ui.css favicon-16x16.png favicon-32x32.png LICENSE NOTICE

## vendor-swagger-ui: copy the pinned swagger-ui-dist assets into server/docs (embedded in the binary)
vendor-swagger-ui: tools
	@for f in $(SWAGGER_UI_FILES); do cp node_modules/swagger-ui-dist/$$f server/docs/swagger-ui/$$f; done

## check-swagger-ui: fail if the vendored assets differ from the pinned npm package
check-swagger-ui: tools
	@for f in $(SWAGGER_UI_FILES); do cmp -s node_modules/swagger-ui-dist/$$f server/docs/swagger-ui/$$f || { echo "server/docs/swagger-ui/$$f differs from swagger-ui-dist: run 'make vendor-swagger-ui'" >&2; exit 1; }; done
	@echo "vendored Swagger UI matches swagger-ui-dist $$(node -p 'require("./node_modules/swagger-ui-dist/package.json").version')"
