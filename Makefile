# Cowrite — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin

.PHONY: help run build frontend test test-go test-e2e test-frontend lint fmt bench fuzz clean

## help: list the targets
help:
	@grep -E '^## ' $(MAKEFILE_LIST) | sed -e 's/^## /  /'

## run: build the editor and the server, then start cowrite on :3000 with data in ./data
run: build
	./$(BIN)/cowrite

## build: build the frontend (if npm is available) and the Go binaries into ./bin
build: frontend
	$(GO) build -o $(BIN)/cowrite .
	$(GO) build -o $(BIN)/sio-echo ./e2e/sio-echo

## frontend: build the browser editor into frontend/dist/app (embedded by go build)
frontend:
	@if [ -f frontend/package.json ]; then \
		cd frontend && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build; \
	fi

## test: everything CI runs — lint, Go tests with -race, frontend unit tests, end-to-end tests
test: lint test-go build test-frontend test-e2e

## lint: gofmt and go vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## test-go: Go unit, property and integration tests with the race detector
test-go:
	$(GO) test -race -timeout 20m ./...

## test-frontend: unit tests of the client package (clients/js: sync controller, OT, offsets) and the editor
test-frontend:
	@for dir in clients/js frontend; do \
		if [ -f $$dir/package.json ]; then (cd $$dir && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test) || exit 1; fi; \
	done

## test-e2e: end-to-end tests with the npm socket.io-client and headless Chromium against ./bin
test-e2e:
	@if [ -f e2e/package.json ]; then cd e2e && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test; fi

## bench: Go benchmarks (codecs, OT, storage, sequencer)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## clean: remove build outputs
clean:
	rm -rf $(BIN) frontend/dist/app e2e/artifacts
