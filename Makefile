GO ?= go

.PHONY: all build test vet examples clean

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race -timeout 20m ./...

examples:
	mkdir -p bin
	$(GO) build -o bin/ ./examples/...

clean:
	rm -rf bin
