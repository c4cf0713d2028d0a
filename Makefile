GO ?= go
BIN := bin

# Flags for `make run` / `make pingpong` / `make elevator` / `make montecarlo`, e.g.
#   make run ARGS="-workers 8 -messages 10000"
ARGS ?=

.PHONY: all build vet test test-deps test-cluster examples run pingpong elevator montecarlo hello seedstyle mesos-local clean

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

test: vet test-deps
	$(GO) test -race -timeout 30m ./...

# test-deps: what the tests use besides Go, from Debian's packages:
# iproute2 (network namespaces for the multi-host test, as root), chromium
# (the status page test) and zookeeper (the failover tests, with a Java
# runtime). As root with apt-get the missing ones are installed in one go;
# otherwise this says what is missing and those tests are skipped loudly
# (or fail, with MESOSGOT_REQUIRE_ALL=1, as .ci/run sets).
ZOOKEEPER_JAR := /usr/share/java/zookeeper.jar
test-deps:
	@missing=""; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing="$$missing chromium"; \
	{ [ -e $(ZOOKEEPER_JAR) ] && command -v java >/dev/null 2>&1; } || missing="$$missing zookeeper"; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make: installing$$missing (apt-get) for the tests"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } || \
			echo "make: !!! apt-get install$$missing failed: the tests needing them will not pass"; \
	else echo "make: !!! missing$$missing and not root with apt-get: the tests needing them will be skipped"; fi
	@if [ "$$(id -u)" != 0 ]; then echo "make: !!! not root: the multi-host test (network namespaces) will be skipped"; fi

# test-cluster: only the multi-host test (network namespaces, root) and the
# namespace harness under it; it prints the job and agent-loss figures.
test-cluster: test-deps
	$(GO) test -race -count=1 -timeout 20m -v ./internal/netns ./clustertest

examples:
	mkdir -p $(BIN)
	$(GO) build -o $(BIN)/pingpong-scheduler ./examples/pingpong/scheduler
	$(GO) build -o $(BIN)/pingpong-executor ./examples/pingpong/executor
	@if [ -d examples/elevator/scheduler ]; then \
		$(GO) build -o $(BIN)/elevator-scheduler ./examples/elevator/scheduler && \
		$(GO) build -o $(BIN)/elevator-executor ./examples/elevator/executor; fi
	$(GO) build -o $(BIN)/montecarlo-scheduler ./examples/montecarlo/scheduler
	$(GO) build -o $(BIN)/montecarlo-executor ./examples/montecarlo/executor
	$(GO) build -o $(BIN)/hello-scheduler ./examples/hello/scheduler
	$(GO) build -o $(BIN)/hello-executor ./examples/hello/executor
	$(GO) build -o $(BIN)/seedstyle-scheduler ./examples/seedstyle/scheduler
	$(GO) build -o $(BIN)/seedstyle-executor ./examples/seedstyle/executor

# run: the pingpong example on the embedded local Mesos cluster.
run: pingpong

pingpong: examples
	$(BIN)/pingpong-scheduler -master=local -executor=$(BIN)/pingpong-executor $(ARGS)

elevator: examples
	$(BIN)/elevator-scheduler -master=local -executor=$(BIN)/elevator-executor $(ARGS)

# montecarlo: the compute example (an estimate of pi from batches of random
# points); e.g. make montecarlo ARGS="-workers 8 -batches 2000 -fail_batch 100"
montecarlo: examples
	$(BIN)/montecarlo-scheduler -master=local -executor=$(BIN)/montecarlo-executor $(ARGS)

# seedstyle: a job whose driver is built by hand (ARGS=-fail: a failing one).
seedstyle: examples
	$(BIN)/seedstyle-scheduler -master=local -executor=$(BIN)/seedstyle-executor $(ARGS)

# hello: the README's job.
hello: examples
	$(BIN)/hello-scheduler -master=local -executor=$(BIN)/hello-executor $(ARGS)

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
