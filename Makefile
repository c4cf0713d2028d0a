GO ?= go
BIN := bin

# Flags for `make run` / `make pingpong` / `make elevator`, e.g.
#   make run ARGS="-workers 8 -messages 10000"
ARGS ?=

.PHONY: all build vet test test-deps examples run pingpong elevator mesos-local clean

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

test: vet test-deps
	$(GO) test -race -timeout 30m ./...

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
# bench: the full table (about 5 minutes), written to BENCHMARKS.md.
bench:
	$(GO) run ./bench -out BENCHMARKS.md

# bench-quick: a reduced table in under a minute; the last line is
# "headline: local-speedup=<x.xx> fake-overhead=<y.yy>".
bench-quick:
	@$(GO) run ./bench -quick
