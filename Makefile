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

.PHONY: help generate build run test test-e2e-deps lint bench bench-full web-widget web-widget-check

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

generate: ## regenerate ent (ent/) and gqlgen (graph/) code from the schemas
	cd ent && $(GO) generate .
	$(GO) tool gqlgen generate

build: ## build bin/chatty
	$(GO) build -o bin/chatty ./cmd/chatty

run: ## serve on 127.0.0.1:8080 (CHATTY_ADDR to change): SQLite in ./data, files in ./uploads, GraphiQL at http://localhost:8080/
	CHATTY_ADDR="$${CHATTY_ADDR:-127.0.0.1:8080}" $(GO) run ./cmd/chatty

test: test-e2e-deps ## run every test (MariaDB too with CHATTY_TEST_MYSQL_DSN, Redis with CHATTY_TEST_REDIS_URL, S3 with CHATTY_TEST_S3_URL; RACE=1: -race)
	@echo "variants: $$(TESTFLAGS='$(TESTFLAGS)' ./.ci/variants)"
	$(GO) vet ./...
	$(GO) test -count=1 $(TESTFLAGS) ./...

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
