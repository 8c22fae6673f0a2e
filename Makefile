# billing-api — see README.md for what each target does.
SHELL := /bin/bash
GO ?= go
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true

.PHONY: all build generate check-generated golden lint lint-spec tools test vet

all: build

build:
	$(GO) build -o bin/billing-api ./cmd/billing-api

## generate: regenerate gen/ from the specs in openapi/ (never edit gen/ by hand)
generate:
	$(GO) generate ./gen/...

## check-generated: fail if gen/ differs from what `make generate` produces
check-generated: generate
	@if ! git diff --quiet --exit-code -- gen/ || [ -n "$$(git status --porcelain --untracked-files=all -- gen/)" ]; then \
		echo "gen/ is out of date with openapi/: run 'make generate' and commit the result" >&2; \
		git status --short -- gen/ >&2; git --no-pager diff --stat -- gen/ >&2; exit 1; \
	fi
	@echo "gen/ is up to date"

## golden: rewrite openapi/*.summary.txt after a deliberate contract change
golden:
	$(GO) test ./openapi -run TestContractSummary -update

## tools: install the pinned Node tools (spec linter, Swagger UI assets)
tools: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts

## lint-spec: lint the specs with @redocly/cli (zero errors allowed)
lint-spec: tools
	npx --no-install redocly lint openapi/billing.yaml --format=summary

vet:
	$(GO) vet ./...

lint: vet lint-spec

## test: the whole suite
test: vet
	$(GO) test -count=1 ./...
