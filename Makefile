# netbased — build, test and run targets. `make help` lists them.
GO      ?= go
BIN     := bin/netbased
PCAP    := pcaps/demo.pcap
SHARED  ?= ../shared

.PHONY: help build test run bench lint fuzz pcaps clean

help:
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

build: ## build bin/netbased (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/netbased

test: ## run every test (needs ../shared for the parity tests)
	NETBASED_SHARED=$(abspath $(SHARED)) $(GO) test -count=1 ./...

run: build ## replay the bundled demo pcap and print its intervals
	$(BIN) replay $(PCAP)

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)
	$(GO) vet ./...

fuzz: ## run each fuzz target for FUZZTIME (default 20s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} $$pkg || exit 1; \
	  done; \
	done

pcaps: ## regenerate pcaps/demo.pcap with the project's generator
	$(GO) run ./bench/gen -o $(PCAP)

clean:
	rm -rf bin
