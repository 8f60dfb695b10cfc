# revocast: make help lists the targets.
SHELL := /bin/bash
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)

# Every fuzz target, as package:Target; make fuzz runs each for FUZZTIME.
FUZZ_TARGETS := \
	./publisher/elasticsearch:FuzzParseBody \
	./publisher/elasticsearch:FuzzHandler \
	./subscriber:FuzzCheckRequests \
	./internal/jwtclaims:FuzzParse
FUZZTIME ?= 5s
BENCHTIME ?= 1s

.PHONY: help run test unit fuzz bench build lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

run: ## start everything on this machine (embedded NATS, front on :8080, sidecar on :8081, data in ./data)
	$(GO) run ./cmd/revocast dev --log-format console

test: unit fuzz ## the whole suite: unit, integration and end-to-end tests with -race, then every fuzz target briefly

unit: ## tests with the race detector (end-to-end tests build and start the real binary)
	$(GO) test -race -count=1 -timeout 15m ./...

fuzz: ## run every fuzz target for FUZZTIME (default 5s)
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

bench: ## benchmarks: cache Get/Set, check, revoke-to-enforced latency with two sidecars (p50/p99)
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem ./cache/ ./subscriber/
	$(GO) test -run '^$$' -bench RevokeToEnforced -benchtime 2000x ./cmd/revocast/

build: ## build bin/revocast
	$(GO) build -o bin/revocast ./cmd/revocast

lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean: ## remove build output and the dev data directory
	rm -rf bin data
