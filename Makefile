# fog — build, test and measure. Needs Go (see go.mod for the version); the
# race detector of `make test` also needs cgo, that is a C compiler (gcc or
# clang): without one, `make test` says so and runs the tests without -race.

GO        ?= go
PKGS      ?= ./...
FUZZTIME  ?= 5s
BENCHTIME ?= 1s
EXAMPLES  := $(notdir $(wildcard examples/*))

.PHONY: all build examples web test vet fmt-check tidy-check tools web-test-tools unit k8s-schema bench fuzz fuzz-short banktest nettest attacks crashloops devnet kubo clean

all: build

## build: the fog binary in bin/fog
build:
	$(GO) build -o bin/fog ./cmd/fog

## examples: the example tasks as WebAssembly (WASI) modules in examples/bin
examples:
	@mkdir -p examples/bin
	@for e in $(EXAMPLES); do \
		if [ -f examples/$$e/main.go ]; then \
			echo "wasm examples/bin/$$e.wasm"; \
			GOOS=wasip1 GOARCH=wasm $(GO) build -o examples/bin/$$e.wasm ./examples/$$e || exit 1; \
		fi; \
	done

## web: the dashboard's built assets in web/dist (committed, embedded by
## go:embed, so that `go build` needs no Node.js) from its TypeScript
## sources, with Vite; needs Node.js 20.19+ and npm
web:
	cd web && npm ci --no-audit --no-fund && npm run check && npm run build

## test: vet, formatting, go.mod tidiness and the whole test suite with the
## race detector (without it, and saying so, when there is no C compiler)
test: vet fmt-check tidy-check tools web-test-tools unit k8s-schema
test: nettest

# tools the tests use: tmux drives `fog chat open`'s terminal test,
# promtool (Debian's prometheus package) checks the alert rules, and kubo's
# ipfs (see `kubo`) fetches what a fog node shares. Each is installed when
# missing and apt-get (as root) or the Go module proxy can; otherwise that
# test skips and says why.
tools: kubo
	@command -v tmux >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ echo "make: installing tmux for the terminal chat test"; apt-get install -y -qq tmux >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq tmux >/dev/null 2>&1; }; } ; \
		command -v tmux >/dev/null 2>&1 || echo "make: no tmux: the terminal chat test will skip"; }
	@command -v promtool >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ echo "make: installing prometheus (promtool) to check docs/prometheus/alerts.yml"; \
		  apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }; } ; \
		command -v promtool >/dev/null 2>&1 || echo "make: no promtool: the alert rules' check will skip"; }

# tools the dashboard's browser test uses (cmd/fog's TestDashboardInBrowser):
# Debian's chromium, Node.js and playwright-core from web/'s lock file. Each is
# installed when missing and apt-get (as root) or npm can; otherwise the test
# skips and says why.
web-test-tools:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ echo "make: installing chromium for the dashboard browser test"; apt-get install -y -qq chromium >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; } ; \
		command -v chromium >/dev/null 2>&1 || echo "make: no chromium: the dashboard browser test will skip"; }
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ echo "make: installing Node.js and npm for the dashboard browser test"; apt-get install -y -qq nodejs npm >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq nodejs npm >/dev/null 2>&1; }; } ; \
		command -v npm >/dev/null 2>&1 || echo "make: no npm: the dashboard browser test will skip"; }
	@[ -d web/node_modules/playwright-core ] || ! command -v npm >/dev/null 2>&1 || \
		{ echo "make: npm ci in web/ for playwright-core"; (cd web && npm ci --no-audit --no-fund >/dev/null 2>&1) || \
		  echo "make: npm ci in web/ failed: the dashboard browser test will skip"; }

## kubo: kubo's ipfs command (KUBO_VERSION, default v0.43.1) in bin/ipfs,
## built from the Go module proxy without touching fog's go.mod, for
## cmd/fog's TestKuboInterop (see docs/files.md); says why when it cannot
kubo:
	@GO=$(GO) scripts/kubo.sh

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

# go.mod and go.sum must be what `go mod tidy` makes of them.
tidy-check:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod or go.sum is not tidy: run 'go mod tidy'"; $(GO) mod tidy -diff; exit 1; }

# -race needs cgo; go turns cgo off by itself when it finds no C compiler.
unit:
	@if [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v "$$($(GO) env CC)" >/dev/null 2>&1; then \
		GO=$(GO) scripts/race-test.sh -timeout 25m -- $(PKGS); \
	else \
		echo "make: the race detector needs cgo and a C compiler ('$$($(GO) env CC)' not found or CGO_ENABLED=0):"; \
		echo "make: running the tests WITHOUT -race; install gcc (e.g. apt-get install gcc) for the full check"; \
		$(GO) test -timeout 25m $(PKGS); \
	fi

## k8s-schema: the Kubernetes manifests (deploy/kubernetes) decoded strictly
## into the Kubernetes API types (k8s.io/api), in a module of their own so
## that fog's go.mod does not carry them; skipped, saying so, when its
## modules cannot be downloaded
k8s-schema:
	@cd deploy/kubernetes/schemacheck && \
	if ! $(GO) mod download >/dev/null 2>&1; then \
		echo "make: cannot download k8s.io/api (no Go module proxy?): the Kubernetes manifests' schema check is SKIPPED"; \
	else \
		$(GO) mod tidy -diff >/dev/null || { echo "deploy/kubernetes/schemacheck: go.mod or go.sum is not tidy"; exit 1; }; \
		$(GO) vet ./... && echo "$(GO) test deploy/kubernetes/schemacheck" && $(GO) test -count=1 ./...; \
	fi

## bench: every benchmark, once each (BENCHTIME=5s for steadier figures)
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem $(PKGS)

## fuzz: every fuzz target for a budget, with the executions each made
## (FUZZTIME: 1000000x, a million executions each, by default; or a
## duration such as 60s), a target stopped after FUZZCAP (default 5m) if
## its budget is not spent by then; FUZZ_REPORT=FILE keeps the table
FUZZCAP ?= 5m
fuzz:
	@FUZZTIME=$(if $(filter 5s,$(FUZZTIME)),1000000x,$(FUZZTIME)) FUZZCAP=$(FUZZCAP) PKGS='$(PKGS)' GO=$(GO) scripts/fuzz.sh

## fuzz-short: each fuzz target for FUZZTIME (default 5s)
fuzz-short:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

## banktest: the ledger's bank test with 50 kill -9 restarts of the fog
## node process, `fog run` (make test runs it with 2); its last line is
## the summary
BANKRESTARTS ?= 50
banktest:
	@out=$$(mktemp); $(GO) test -count=1 -timeout 60m -v -run '^TestBank$$' ./token/banktest -bank.restarts=$(BANKRESTARTS) >$$out 2>&1; \
	s=$$?; cat $$out; grep '^restarts ' $$out | tail -1; rm -f $$out; exit $$s

## nettest: fog processes in network namespaces of their own, two behind
## NAT routers (see docs/nettest.md): a partition that heals, kill -9 and
## restart, AutoNAT, a relay and hole punching, a task, a DM and a mix
## message from behind NAT; one line per scenario and a summary. Needs
## root, iproute2 and iptables (installed here when missing and apt-get
## can); skips, saying why, where namespaces cannot be made
nettest:
	@command -v iptables >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ echo "make: installing iptables for nettest's NAT routers"; apt-get install -y -qq iptables >/dev/null 2>&1 || \
		  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq iptables >/dev/null 2>&1; }; } ; \
		command -v iptables >/dev/null 2>&1 || echo "make: no iptables: nettest will skip"; }
	FOG_NETTEST=1 $(GO) test -count=1 -timeout 15m -v -run '^TestNet$$' ./internal/nettest

## attacks: node's TestAttacks with each attack lasting ATTACKFOR (make test
## runs it for 2 s each, with looser bounds), held to issue 17's bounds, the
## attackers at the lowest CPU priority as if on other machines; it prints
## the table of docs/bench.md's "Attacks"
ATTACKFOR ?= 20s
attacks:
	$(GO) test -count=1 -timeout 30m -v -run '^TestAttacks$$' ./node -attack.for=$(ATTACKFOR) -attack.strict -attack.nice

## crashloops: a fog daemon killed with SIGKILL and restarted 50 times
## (CRASHRESTARTS) for each kind of durable write (cmd/fog's TestCrashLoops;
## make test runs it with 2), then the ledger's bank test with as many
## restarts; prints one summary line per kind
CRASHRESTARTS ?= 50
crashloops:
	@out=$$(mktemp); start=$$(date +%s); \
	$(GO) test -count=1 -timeout 120m -v -run '^TestCrashLoops$$' ./cmd/fog -crash.restarts=$(CRASHRESTARTS) >$$out 2>&1; \
	s=$$?; [ $$s = 0 ] || cat $$out; grep '^crashloop ' $$out; rm -f $$out; \
	echo "crash loops: $$(( $$(date +%s) - start ))s"; [ $$s = 0 ] || exit $$s; \
	$(MAKE) --no-print-directory banktest BANKRESTARTS=$(CRASHRESTARTS)

## devnet: five real nodes on loopback; Ctrl-C stops them
devnet:
	$(GO) run ./cmd/fog devnet --nodes 5

clean:
	rm -rf bin examples/bin
