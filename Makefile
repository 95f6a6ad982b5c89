# breachctl: `make demo` runs the main job, `make test` runs the tests.
# Both install and start what they need (PostgreSQL, Mailpit) when it is missing.

GO      ?= go
BIN     := bin/breachctl
PGURL   := postgres://postgres@127.0.0.1:5432
export BREACHCTL_DATABASE_URL ?= $(PGURL)/breachctl?sslmode=disable
export USERS_DATABASE_URL     ?= $(PGURL)/breachctl_users?sslmode=disable
DEMO_DIR ?= demo-out

.PHONY: all build demo test vet bench services clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/breachctl

services:
	@scripts/ensure-postgres.sh
	@scripts/ensure-db.sh breachctl breachctl_users
	@scripts/ensure-tools.sh
	@scripts/ensure-mailpit.sh

# The main job: simulate an incident, check its case file, ingest the logs,
# and show who was affected.
demo: build services
	@rm -rf $(DEMO_DIR)
	$(BIN) simulate --out $(DEMO_DIR) --users 50000 --requests 2000000
	$(BIN) validate -f $(DEMO_DIR)/incident.yaml
	$(BIN) ingest -f $(DEMO_DIR)/incident.yaml
	$(BIN) triage -f $(DEMO_DIR)/incident.yaml --html $(DEMO_DIR)/triage.html
	$(BIN) affected -f $(DEMO_DIR)/incident.yaml -o $(DEMO_DIR)/affected.csv
	@echo
	@echo "Open $(DEMO_DIR)/triage.html (the report for legal), $(DEMO_DIR)/affected.csv (who was affected),"
	@echo "and compare with $(DEMO_DIR)/truth.json (what the simulation really served)."

test: services
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

# Benchmarks: Go benchmarks of the parsers, then the end-to-end ingest
# benchmark (scripts/bench.sh; LINES and USERS set its size).
LINES ?= 20000000
USERS ?= 1000000
bench: build services
	$(GO) test -run '^$$' -bench . -benchmem ./incident/logs/
	LINES=$(LINES) USERS=$(USERS) scripts/bench.sh

clean:
	rm -rf bin $(DEMO_DIR)
