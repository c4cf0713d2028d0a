GO ?= go
BIN := bin

# Flags for `make run` / `make pingpong` / `make elevator`, e.g.
#   make run ARGS="-workers 8 -messages 10000"
ARGS ?=

.PHONY: all build vet test test-deps test-deps-netns test-cluster examples run pingpong elevator mesos-local clean

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

test: vet test-deps test-deps-netns
	$(GO) test -race -timeout 30m ./...

# test-deps-netns: the multi-host test (clustertest) builds hosts out of
# network namespaces with iproute2's ip. As root with apt, install iproute2
# when it is missing; otherwise say so (the test then skips loudly, or fails
# under MESOSGOT_REQUIRE_ALL=1).
test-deps-netns:
	@if command -v ip >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make: installing iproute2 (apt-get) for the multi-host test"; \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y iproute2) || \
			echo "make: !!! installing iproute2 failed: the multi-host test will not pass"; \
	else echo "make: !!! ip (iproute2) is missing and this is not root with apt-get: the multi-host test will be skipped"; fi
	@if [ "$$(id -u)" != 0 ]; then echo "make: !!! not root: the multi-host test (network namespaces) will be skipped"; fi

# test-cluster: only the multi-host test (network namespaces, root) and the
# namespace harness under it; it prints the job and agent-loss figures.
test-cluster: test-deps-netns
	$(GO) test -race -count=1 -timeout 20m -v ./internal/netns ./clustertest

# test-deps installs what the tests need on a Debian machine when run as
# root with apt (ZooKeeper, which pulls in a Java runtime); elsewhere it says
# what is missing, and the tests needing it are skipped loudly.
ZOOKEEPER_JAR := /usr/share/java/zookeeper.jar
.PHONY: test-deps
test-deps:
	@if [ -e $(ZOOKEEPER_JAR) ] && command -v java >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing ZooKeeper (Debian package zookeeper) for the high-availability tests"; \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y zookeeper) \
			|| echo "!!! apt-get install zookeeper failed: the ZooKeeper tests will not run"; \
	else \
		echo "!!! ZooKeeper ($(ZOOKEEPER_JAR)) missing and not root with apt: the ZooKeeper tests will be skipped"; \
	fi

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
