# breachctl: `make demo` runs the main job, `make test` runs the tests.
# Both install and start what they need (PostgreSQL) when it is missing.

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

# The main job: simulate an incident, then check the case file it wrote.
demo: build services
	@rm -rf $(DEMO_DIR)
	$(BIN) simulate --out $(DEMO_DIR) --users 20000 --requests 500000
	$(BIN) validate -f $(DEMO_DIR)/incident.yaml
	@echo
	@echo "Open $(DEMO_DIR)/incident.yaml (the case file) and $(DEMO_DIR)/truth.json (who was exposed)."

test: services
	$(GO) vet ./...
	$(GO) test -race -timeout 30m ./...

bench: build services
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin $(DEMO_DIR)
