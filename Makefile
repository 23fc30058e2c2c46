# avbalance: `make demo` runs the main job, `make test` the tests; both install what they need first.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/avbalance

.PHONY: setup build test demo bench vet

setup:
	scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/avbalance

test: setup
	$(GO) vet ./...
	$(GO) test -timeout 40m ./...

demo: build
	$(BIN) demo --out demo-out

bench: setup
	scripts/setup.sh --bench
	bench/run.sh

vet:
	$(GO) vet ./...
	gofmt -l .
