GO ?= go
BIN := bin

# Flags for `make run` / `make pingpong` / `make elevator`, e.g.
#   make run ARGS="-workers 8 -messages 10000"
ARGS ?=

.PHONY: all build vet test examples run pingpong elevator mesos-local clean

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -timeout 30m ./...

examples:
	mkdir -p $(BIN)
	$(GO) build -o $(BIN)/pingpong-scheduler ./examples/pingpong/scheduler
	$(GO) build -o $(BIN)/pingpong-executor ./examples/pingpong/executor
	@if [ -d examples/elevator/scheduler ]; then \
		$(GO) build -o $(BIN)/elevator-scheduler ./examples/elevator/scheduler && \
		$(GO) build -o $(BIN)/elevator-executor ./examples/elevator/executor; fi

# run: the pingpong example on the embedded local Mesos cluster.
run: pingpong

pingpong: examples
	$(BIN)/pingpong-scheduler -master=local -executor=$(BIN)/pingpong-executor $(ARGS)

elevator: examples
	$(BIN)/elevator-scheduler -master=local -executor=$(BIN)/elevator-executor $(ARGS)

mesos-local:
	mkdir -p $(BIN)
	$(GO) build -o $(BIN)/mesos-local ./cmd/mesos-local

clean:
	rm -rf $(BIN)

.PHONY: bench bench-quick
# bench: the full table (about 10 minutes), written to BENCHMARKS.md.
bench:
	$(GO) run ./bench -out BENCHMARKS.md

# bench-quick: a reduced table in about two minutes; the last line is
# "headline: local-speedup=<x.xx> fake-overhead=<y.yy> bulk-ratio=<z.zz> hello-ms=<w>".
bench-quick:
	@$(GO) run ./bench -quick

.PHONY: fuzz
# fuzz: every native Go fuzz target for FUZZTIME each, one at a time,
# e.g. make fuzz FUZZTIME=30s. Other packages' targets are found the same
# way: every `func FuzzXxx` in a _test.go file.
FUZZTIME ?= 30s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		pkg=$$(dirname $$f); \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$pkg $$t ($(FUZZTIME))"; \
			out=$$(mktemp); \
			if ! $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg >$$out 2>&1; then \
				cat $$out; rm -f $$out; exit 1; fi; \
			tail -n 3 $$out; rm -f $$out; \
		done; \
	done
