# avbalance: `make demo` runs the main job, `make test` the tests; both install what they need first.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/avbalance

.PHONY: setup build test test-beam demo bench bench-train vet

setup:
	scripts/setup.sh

build: setup
	$(GO) build -o $(BIN) ./cmd/avbalance

test: setup
	$(GO) vet ./...
	$(GO) test -timeout 40m ./...
	$(MAKE) test-beam

# The Apache Beam runner is a module of its own (beam/go.mod); its tests run the
# pipeline on prism in-process and as separate processes (they build avbalance-beam
# and the prism job server) and compare it with the local pipeline.
# ~1-2 min with a warm Go build cache; ~10 min on a cold one (the Beam SDK and its cloud clients).
test-beam: setup
	cd beam && $(GO) vet ./...
	cd beam && $(GO) test -timeout 20m ./...

demo: build
	$(BIN) demo --out demo-out

bench: setup
	scripts/setup.sh --bench
	bench/run.sh

# Training against the PyTorch peer (end to end, the step alone, peak RSS, ResNet-18):
# rewrites bench/RESULTS-train.md.
bench-train: setup
	bench/train_bench.sh

vet:
	$(GO) vet ./...
	gofmt -l .
