# revocast: make help lists the targets.
SHELL := /bin/bash
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)
# go.mod names Go 1.27.3 (go1.26.8 has called standard-library vulnerabilities in
# crypto/tls and net/http); the go command fetches it through the module proxy.
export GOTOOLCHAIN := go1.27.3

# Every fuzz target, as package:Target; make fuzz runs each for FUZZTIME.
FUZZ_TARGETS := \
	./publisher/elasticsearch:FuzzParseBody \
	./publisher/elasticsearch:FuzzHandler \
	./publisher/oam:FuzzHandler \
	./publisher/oam:FuzzTokenSpelling \
	./publisher/onelogin:FuzzHandler \
	./publisher/onelogin:FuzzAccessToken \
	./publisher/rfc7009:FuzzHandler \
	./publisher/auth:FuzzParsers \
	./publisher/registry:FuzzIngest \
	./subscriber:FuzzCheckRequests \
	./internal/jwtclaims:FuzzParse \
	./internal/jwtclaims:FuzzClaim \
	./publisher/ssf:FuzzParseSET \
	./publisher/ssf:FuzzParseLogoutToken \
	./publisher/ssf:FuzzVerifyToken \
	./cmd/revocast:FuzzParseConfig \
	./events:FuzzTokenKey \
	./events:FuzzValidJSON \
	./events:FuzzDecodeBinary \
	./events:FuzzDecodeAgreesWithEncodingJSON \
	./publisher/revocations:FuzzParse \
	./internal/eventsio:FuzzParseRecord \
	./internal/jsonkeys:FuzzDuplicate
OPENID_CLIENT := publisher/rfc7009/testdata/openid-client
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a duration -fuzztime expires
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 10000x
BENCHTIME ?= 1s
# Extra flags of make bench's harness, e.g. BENCHFLAGS='--only front,check' or '--quick'.
BENCHFLAGS ?=

# Tests the race detector cannot run (files tagged //go:build !race: memory
# ceilings, allocation counts, timing distributions, bulk work) run in a
# second pass without it, so none is skipped.
NORACE_FILES := $(shell grep -rl --include='*_test.go' '^//go:build !race' . 2>/dev/null)
NORACE_TESTS := $(shell grep -h '^func Test' $(NORACE_FILES) /dev/null | sed 's/^func \(Test[A-Za-z0-9_]*\).*/\1/' | paste -sd'|' -)
# Only the packages holding such tests: compiling every other one again without
# -race (the deployments tests pull in helm and the Kubernetes API) took minutes.
NORACE_PKGS := $(shell grep -l '^func Test' $(NORACE_FILES) /dev/null | xargs -r -n1 dirname | sort -u)

# The version stamped into the binary and the image's labels.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
IMAGE ?= localhost/revocast:$(VERSION)

.PHONY: help run test unit norace deps fuzz bench bench-go build static image lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

run: build ## start everything on this machine (embedded NATS, front on :8080, sidecar on :8081, data in ./data); Ctrl-C stops it
	@echo "make run: the front needs credentials. At first start revocast prints the admin client's id and secret"
	@echo "          below (only its hash is kept in ./data/dev-admin.yaml); set REVOCAST_DEV_CLIENT=id:secret to choose them."
	@exec ./bin/revocast dev --log-format console --take-terminal

test: deps unit norace fuzz ## the whole suite: unit, integration and end-to-end tests with -race, the tests -race cannot run, then every fuzz target briefly

unit: ## tests with the race detector (end-to-end tests build and start the real binary)
	$(GO) test -race -count=1 -timeout 15m ./...

norace: ## the tests the race detector cannot run (//go:build !race), without it
	$(GO) test -count=1 -timeout 10m -run '^($(NORACE_TESTS))$$' $(NORACE_PKGS)

deps: ## install the test-only npm client (openid-client) when node is present
	@if command -v npm >/dev/null; then npm ci --prefix $(OPENID_CLIENT) --no-audit --no-fund --silent; \
	else echo "npm not found: the openid-client test will be skipped (CI installs node)"; fi

fuzz: ## run every fuzz target for FUZZTIME executions (default 10000x; FUZZTIME=60s for a longer hunt)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench: build ## every figure of issue 11 beside its baseline, measured in one run (<= 10 min, loopback only): docs/benchmarks.md and its plots
	@command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || { \
		echo "make bench: installing redis-server (Debian's package) for the Redis baselines"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } || \
		echo "make bench: could not install redis-server (not root?): the Redis baselines will say not measured"; }
	$(GO) build -o bin/revocast-bench ./cmd/revocast-bench
	./bin/revocast-bench --bin ./bin/revocast --out docs $(BENCHFLAGS)

bench-go: ## the packages' go-test benchmarks: cache, check, replay, revoke-to-enforced, publish, registry 100k
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./cache/
	$(GO) test -run '^$$' -bench '^BenchmarkCheck' -benchtime $(BENCHTIME) -benchmem ./subscriber/
	$(GO) test -run '^$$' -bench '^BenchmarkReplay' -benchtime 1x ./subscriber/
	$(GO) test -run '^$$' -bench RevokeToEnforced -benchtime 2000x ./cmd/revocast/
	$(GO) test -run '^$$' -bench BenchmarkPublish -benchtime 30x ./publisher/
	$(GO) test -run '^$$' -bench Ingest100k -benchtime 3x ./publisher/registry/
	$(GO) test -run '^$$' -bench Registry100k -benchtime 3x ./cmd/revocast/

build: ## build bin/revocast
	$(GO) build -o bin/revocast ./cmd/revocast

static: ## build bin/revocast as a static binary (CGO_ENABLED=0, -trimpath, version stamped), as the image needs
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/revocast ./cmd/revocast

image: static ## build the container image IMAGE from bin/revocast with podman or buildah (pulls nothing)
	@tool=$$(command -v podman || command -v buildah) || { echo "make image needs podman or buildah (apt-get install podman)"; exit 1; }; \
	set -x; $$tool build -f deployments/container/Containerfile.local --build-arg VERSION=$(VERSION) -t $(IMAGE) .

lint: ## gofmt, go vet and staticcheck (pinned, fetched through the module proxy)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean: ## remove build output and the dev data directory
	rm -rf bin data
