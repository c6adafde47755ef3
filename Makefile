# netbased — build, test and run targets. `make help` lists them.
GO      ?= go
BIN     := bin/netbased
PCAP    := pcaps/demo.pcap
# The Zeek ground truth (testdata/zeek) of the parity tests: an exported
# NETBASED_SHARED wins, else SHARED, else ../shared; made absolute here
# because each package's tests run in their own directory.
SHARED  ?= ../shared
NETBASED_SHARED ?= $(SHARED)
override NETBASED_SHARED := $(abspath $(NETBASED_SHARED))
export NETBASED_SHARED

.PHONY: help build test run bench lint fuzz pcaps clean

help:
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

build: ## build bin/netbased (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/netbased

test: ## run every test (the parity tests skip without the ground truth; CI=true fails them)
	@test -d "$(NETBASED_SHARED)/testdata/zeek" || echo "make test: no Zeek ground truth at $(NETBASED_SHARED)/testdata/zeek, so the parity tests skip (set NETBASED_SHARED to the shared directory that holds testdata/zeek)"
	$(GO) test -count=1 ./...

run: build ## replay the bundled demo pcap and print its intervals
	$(BIN) replay $(PCAP)

bench: ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)
	$(GO) vet ./...

# Minimizing each new interesting input may take the whole FUZZTIME with
# Go's default (60s); a short bound leaves the time to fuzzing.
fuzz: ## run each fuzz target for FUZZTIME (default 20s; FUZZMINIMIZETIME per new input, default 1s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} \
	      -fuzzminimizetime $${FUZZMINIMIZETIME:-1s} $$pkg || exit 1; \
	  done; \
	done

pcaps: ## regenerate pcaps/demo.pcap with the project's generator
	$(GO) run ./bench/gen -o $(PCAP)

clean:
	rm -rf bin
