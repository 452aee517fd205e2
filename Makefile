# Cowrite — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
# What `cowrite --version` prints (this machine's go env turns the toolchain's VCS stamp off).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS = -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(shell date -u +%Y-%m-%dT%H:%M:%SZ)

.PHONY: help run build frontend nats-server test test-go test-e2e test-frontend lint fmt bench fuzz clean

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -e 's/^## /  /'

## run: build the editor and the server, then start cowrite on :3000 with data in ./data
run: build
	./$(BIN)/cowrite

## build: build the frontend (if npm is available) and the Go binaries into ./bin
build: frontend
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/cowrite .
	$(GO) build -o $(BIN)/sio-echo ./e2e/sio-echo

## frontend: build the browser editor into frontend/dist/app (embedded by go build)
frontend:
	@if [ -f frontend/package.json ]; then \
		if ! command -v npm >/dev/null 2>&1; then \
			echo "make: building the editor needs Node.js >= 20.19 with npm (Debian: apt-get install nodejs npm)."; \
			echo "      Without it, 'go build .' gives a server whose / explains how to build the editor."; \
			exit 1; \
		fi; \
		cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build; \
	fi

## test: everything CI runs — lint, Go tests with -race, frontend unit tests, end-to-end tests
test: lint test-go build test-frontend test-e2e

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## fmt: gofmt -w every Go file
fmt:
	gofmt -w $$(git ls-files '*.go')

## test-go: Go unit, property and integration tests with the race detector
test-go:
	$(GO) test -race -timeout 20m ./...

## test-frontend: unit tests of the client package (clients/js: sync controller, OT, offsets) and the editor
test-frontend:
	@for dir in clients/js frontend; do \
		if [ -f $$dir/package.json ]; then (cd $$dir && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test) || exit 1; fi; \
	done

## nats-server: build the nats-server pinned in go.mod into ./bin (the cluster fault tier runs it)
nats-server:
	$(GO) build -o $(BIN)/nats-server github.com/nats-io/nats-server/v2

## test-e2e: end-to-end tests with the npm socket.io-client and headless Chromium against ./bin
test-e2e: nats-server
	@if [ -f e2e/package.json ]; then cd e2e && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test; fi

## bench: Go benchmarks (codecs, OT, storage, sequencer)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: run every fuzz target of the repo for FUZZTIME each (default 10s), found with go test -list
FUZZTIME ?= 10s
fuzz:
	@set -eo pipefail; \
	targets=$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { n[++c] = $$1 } /^(ok|\?)/ { for (i = 1; i <= c; i++) print $$2 "," n[i]; c = 0 }'); \
	[ -n "$$targets" ] || { echo "no fuzz targets found"; exit 1; }; \
	for t in $$targets; do \
		pkg=$${t%,*}; name=$${t#*,}; \
		echo "== $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done
## soak: mixed load against bin/cowrite for SOAK_DURATION (default 30m); report and SVG plot in e2e/artifacts/soak
.PHONY: soak
soak: build
	@cd e2e && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && SOAK_DURATION=$${SOAK_DURATION:-30m} node soak/soak.mjs

## clean: remove build outputs
clean:
	rm -rf $(BIN) frontend/dist/app e2e/artifacts
