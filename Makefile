# breachctl: `make demo` runs the main job, `make test` runs the tests.
# Both install and start what they need (PostgreSQL, Mailpit) when it is missing.

GO      ?= go
BIN     := bin/breachctl
PGURL   := postgres://postgres@127.0.0.1:5432
export BREACHCTL_DATABASE_URL ?= $(PGURL)/breachctl?sslmode=disable
export USERS_DATABASE_URL     ?= $(PGURL)/breachctl_users?sslmode=disable
DEMO_DIR ?= demo-out
# DEMO_FLAGS=--serve: after the demo, serve the case in a browser (breachctl serve).
DEMO_FLAGS ?=

.PHONY: all build demo test vet bench services clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/breachctl

services:
	@scripts/ensure-postgres.sh
	@scripts/ensure-db.sh breachctl breachctl_users
	@scripts/ensure-tools.sh
	@scripts/ensure-letters.sh
	@scripts/ensure-mailpit.sh

# The main job: the whole pipeline on a simulated incident (breachctl demo):
# simulate, validate, ingest, triage, render the notices, deliver them to
# Mailpit, obligations and regulator reports. Mailpit's web UI shows the
# delivered notices.
MAILPIT_SMTP ?= 127.0.0.1:1025
MAILPIT_HTTP ?= 127.0.0.1:8025
demo: build services
	@MAILPIT_SMTP=$(MAILPIT_SMTP) MAILPIT_HTTP=$(MAILPIT_HTTP) scripts/ensure-mailpit.sh --start
	@MAILPIT_HTTP=$(MAILPIT_HTTP) scripts/ensure-mailpit.sh --clear-own  # empty the mailbox of a Mailpit this Makefile started
	$(BIN) demo --out $(DEMO_DIR) --smtp smtp://$(MAILPIT_SMTP) --users-db "$$USERS_DATABASE_URL" $(DEMO_FLAGS)
	@echo
	@echo "The delivered notices: http://$(MAILPIT_HTTP)/ (Mailpit's web UI)"

test: services
	@scripts/ensure-chromium.sh
	@scripts/ensure-citus.sh
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

# Benchmarks: Go benchmarks of the parsers, notice rendering, letters (one
# letter's PDF, and a whole batch in letters/s) and delivery to
# Mailpit, then the end-to-end ingest
# benchmark (scripts/bench.sh; LINES and USERS set its size), then the load
# check of breachctl serve (scripts/serve-load.sh: lookups and self-checks
# per second, p99, with 50 clients on the demo case).
LINES ?= 20000000
USERS ?= 1000000
# The engines' benchmark (streaming, postgres, citus on 1 and 2 workers, and
# two loads ingested by ingest --loaded on 2 workers), on the same 20 M lines.
ENGINE_REQUESTS ?= 20000000
ENGINE_USERS ?= 1000000
bench: build services
	$(GO) test -run '^$$' -bench . -benchmem ./incident/logs/
	$(GO) test -run '^$$' -bench . -benchmem ./notify/ ./notify/deliver/
	$(GO) test -run '^$$' -bench . -benchmem -cpu 2 ./notify/letter/ ./notify/mailing/
	$(GO) test -run '^$$' -bench . -benchmem -cpu 2 ./serve/
	@scripts/ensure-citus.sh
	BREACHCTL_ENGINE_REQUESTS=$(ENGINE_REQUESTS) BREACHCTL_ENGINE_USERS=$(ENGINE_USERS) $(GO) test -run '^$$' -bench Engines -benchtime 1x -timeout 60m ./cmd/breachctl/
	LINES=$(LINES) USERS=$(USERS) scripts/bench.sh
	scripts/serve-load.sh

clean:
	rm -rf bin $(DEMO_DIR)
