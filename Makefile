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

# Build information linked into the binary (netbased version, the
# netbased_build_info metric). The date is the commit's (SOURCE_DATE_EPOCH
# wins), so that a build is reproducible.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --match 'v[0-9]*' --always --dirty 2>/dev/null || echo devel)
endif
ifeq ($(origin COMMIT),undefined)
COMMIT := $(shell git rev-parse HEAD 2>/dev/null)
endif
ifeq ($(origin BUILD_DATE),undefined)
BUILD_DATE := $(shell date -u -d @$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || date +%s)} +%Y-%m-%dT%H:%M:%SZ)
endif
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildDate=$(BUILD_DATE)

# The Debian package: nfpm, pinned, run from the module proxy (not a
# dependency of the module). A version without a release tag becomes
# 0.0.0~git<commit date>.<commit>.
NFPM       := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
DEB_DIR    := build/deb
DEB_VERSION ?= $(shell v='$(VERSION)'; \
	if echo "$$v" | grep -q '^v[0-9]'; then echo "$$v" | sed 's/^v//; s/-\([0-9]*\)-g/+\1.g/; s/-/~/g'; \
	else echo "0.0.0~git$$(echo '$(BUILD_DATE)' | tr -d -- - | cut -c1-8).$$(echo '$(COMMIT)' | cut -c1-12)$$(echo "$$v" | grep -o -- '-dirty$$' | tr - '~')"; fi)

.PHONY: help build test run bench lint fuzz pcaps deb clean

help:
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

build: ## build bin/netbased (static, CGO_ENABLED=0)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/netbased

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
# Go before 1.27 may fail a target with a bare "context deadline exceeded"
# when FUZZTIME runs out (golang/go#75804, a race in its fuzz coordinator):
# a run that wrote no failing input is then reported, not counted a failure.
fuzz: ## run each fuzz target for FUZZTIME (default 20s; FUZZMINIMIZETIME per new input, default 1s)
	@log=$$(mktemp); trap 'rm -f $$log $$log.rc' EXIT; \
	for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    { $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-20s} \
	      -fuzzminimizetime $${FUZZMINIMIZETIME:-1s} $$pkg; echo $$? >$$log.rc; } 2>&1 | tee $$log; \
	    if [ "$$(cat $$log.rc)" != 0 ]; then \
	      if grep -q '^    context deadline exceeded$$' $$log && ! grep -q 'Failing input written to' $$log; then \
	        echo "== $$f: Go's fuzz coordinator hit its deadline (golang/go#75804); no failing input, not a failure"; \
	      else exit 1; fi; \
	    fi; \
	  done; \
	done

pcaps: ## regenerate pcaps/demo.pcap with the project's generator
	$(GO) run ./bench/gen -o $(PCAP)

deb: ## build the Debian package build/netbased_<version>_<arch>.deb (deploy/test-deb.sh tests it)
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	CGO_ENABLED=0 $(GO) build -ldflags '-s -w $(LDFLAGS)' -o $(DEB_DIR)/netbased ./cmd/netbased
	$(DEB_DIR)/netbased man | gzip -9n > $(DEB_DIR)/netbased.1.gz
	sed 's|/usr/local/bin/netbased|/usr/bin/netbased|g' deploy/netbased.service > $(DEB_DIR)/netbased.service
	DEB_VERSION='$(DEB_VERSION)' DEB_ARCH=$$($(GO) env GOARCH) $(NFPM) package --config deploy/nfpm.yaml --packager deb --target build/

clean:
	rm -rf bin build
