# chatty — `make help` lists the targets.
.DEFAULT_GOAL := help
GO ?= go
# Pure Go (modernc.org/sqlite): a static binary, no C toolchain needed.
export CGO_ENABLED ?= 0
# `make test RACE=1` runs the tests under the race detector, which needs cgo
# (and gcc); CI does.
ifeq ($(RACE),1)
export CGO_ENABLED := 1
TESTFLAGS += -race
endif

.PHONY: help generate schema web screenshots build run demo test test-e2e-deps lint bench bench-full cluster web-widget web-widget-check

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

generate: ## regenerate ent (ent/) and gqlgen (graph/) code from the schemas, then the web app (web/src/gql, web/dist) when npm is present
	cd ent && $(GO) generate .
	$(GO) tool gqlgen generate
	$(MAKE) --no-print-directory schema
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory web; \
	else echo "npm not found: web/src/gql and web/dist not regenerated (make web needs Node)"; fi

schema: ## write the schema as SDL to web/schema.graphql (what GET /graphql/schema.graphql serves; for codegen)
	@mkdir -p web
	$(GO) run ./cmd/chatty schema > web/schema.graphql.tmp && mv web/schema.graphql.tmp web/schema.graphql

# The app's typed documents come from web/schema.graphql; dist/ is embedded
# in the binary (package web), so `make run` needs no Node.
web: ## build the web app and the widget (needs Node): npm ci, GraphQL codegen into web/src/gql, Vite into web/dist; then make web-widget
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run --silent codegen && npm run --silent build
	$(MAKE) --no-print-directory web-widget

screenshots: test-e2e-deps ## run the web app's browser test (needs Chromium) and save a screenshot of each screen in web/screenshots/
	CHATTY_SCREENSHOTS=$(CURDIR)/web/screenshots $(GO) test -count=1 -v ./internal/server -run 'TestNodeClients/webapp' | grep -E '^\s+- |PASS|FAIL|ok'

build: ## build bin/chatty
	$(GO) build -o bin/chatty ./cmd/chatty

run: ## serve on 127.0.0.1:8080 (CHATTY_ADDR to change): SQLite in ./data, files in ./uploads, GraphiQL at http://localhost:8080/, the app at /app/
	CHATTY_ADDR="$${CHATTY_ADDR:-127.0.0.1:8080}" $(GO) run ./cmd/chatty

demo: ## like make run, and an empty database gets two demo accounts and a conversation (README, Demo)
	CHATTY_DEMO=1 CHATTY_ADDR="$${CHATTY_ADDR:-127.0.0.1:8080}" $(GO) run ./cmd/chatty

cluster: ## two instances on 127.0.0.1:8081 and :8082 sharing MariaDB, Redis and an S3 server (s3rver from npm); README, Running several instances
	GO=$(GO) ./cmd/cluster/run.sh

test: test-e2e-deps ## run every test (MariaDB too with CHATTY_TEST_MYSQL_DSN, Redis with CHATTY_TEST_REDIS_URL, S3 with CHATTY_TEST_S3_URL; RACE=1: -race)
	@echo "variants: $$(TESTFLAGS='$(TESTFLAGS)' ./.ci/variants)"
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 25m $(TESTFLAGS) ./...

# The e2e tests drive chatty with real npm clients; they need Node (skipped without it).
test-e2e-deps: ## install the npm clients of the end-to-end tests (when Node is present)
	@if command -v npm >/dev/null 2>&1; then \
		cd e2e && { [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }; \
	else echo "npm not found: the end-to-end tests with Node clients will be skipped"; fi

# The notification widget (web/widget/): its own npm packages and lockfile,
# no React. The built dist/widget.js is committed and embedded (served at
# /widget.js), so building chatty needs no Node; changing src/ needs this.
web-widget: ## build the notification widget (web/widget/dist/widget.js; needs Node): npm ci, type check, esbuild, size budget
	cd web/widget && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build

web-widget-check: web-widget ## fail when a fresh widget build differs from the committed dist/widget.js (CI)
	@if [ -n "$$(git status --porcelain -- web/widget/dist)" ]; then \
		echo "web/widget/dist/widget.js differs from a fresh build; run make web-widget and commit it:" >&2; \
		git status --porcelain -- web/widget/dist >&2; exit 1; fi

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench: ## measure chatty against a raw gorilla hub and INSERT loop (short profile, < 3 min; MariaDB too with CHATTY_TEST_MYSQL_DSN; BENCH_FLAGS='-scenarios fanout'): table printed, files in bench-out/
	GO=$(GO) ./cmd/chatbench/run.sh short bench-out

bench-full: ## every scenario at full size (5 000 subscribers, 20 000 idle sockets): several minutes
	GO=$(GO) ./cmd/chatbench/run.sh full bench-out
