# supertracker: build, test, run a local testnet.
GO      ?= go
BIN     := bin/supertracker
LEAFBIN := bin/supertracker-leaf
LAB     := bin/supertracker-lab
OUT     ?= testnet-out
PREFIX  ?= /usr/local

.PHONY: build lab test testnet attack fuzz figures load-figures scale bench install clean proto

# The daemon: static (no cgo), -trimpath, stripped, with its version and
# commit linked in (`supertracker version`, /metrics supertracker_info, the
# libp2p agent string). bin/supertracker-leaf is the desktop agent's build
# (-tags leafonly): the same command, but only `leaf` and the API clients,
# without the DHT, datastore and supernode code (25 MB instead of 28, and
# lighter at rest). The lab tools (testnet, model) are a third binary.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
VERPKG  := github.com/supertracker/supertracker/election/node
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X $(VERPKG).version=$(VERSION) -X $(VERPKG).commit=$(COMMIT)"

build:
	$(GOBUILD) -o $(BIN) ./cmd/supertracker
	$(GOBUILD) -tags leafonly -o $(LEAFBIN) ./cmd/supertracker

lab: build
	$(GOBUILD) -o $(LAB) ./cmd/supertracker-lab

# vet, then every test with the race detector (unit, in-process multi-node,
# and end-to-end tests that run the real binary as processes on 127.0.0.x).
# Two packages at a time (TEST_P): one at a time took 19.5 min of wall
# time for 8.7 min of CPU on 2 cores, since the multi-node and process
# tests mostly wait on the clocks of the behaviour they check. Then the
# in-process election
# scenarios again at full size (30 + 24 nodes) without the race detector,
# whose slowdown distorts their timing bounds.
TEST_P ?= 2
test:
	$(GO) vet ./...
	$(GO) test -race -p $(TEST_P) -timeout 25m ./...
	$(GO) test -count=1 -timeout 10m -run 'TestElection' ./election/runner/

# A local overlay of real processes, driven, measured and stopped.
testnet: lab
	./$(LAB) testnet --binary $(BIN) --out $(OUT)

# The attack suite (issue 14; docs/security.md): forged and injected
# records, eclipse by ground identities, a lying primary, a flood of one
# supernode process, web pages against a leaf's API; prints each attack's
# attempts, successes, bound and PASS/FAIL (~3 min). make test runs a short
# version (testnet/attack's TestAttackSuite).
attack: build
	$(GO) run ./testnet/attack/cmd/attack --binary $(BIN)

# Short runs of every fuzz target (longer: make fuzz FUZZTIME=5m).
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/supertracker
	install -D -m 0755 $(LEAFBIN) $(DESTDIR)$(PREFIX)/bin/supertracker-leaf
	install -D -m 0644 deploy/supertracker.service $(DESTDIR)/lib/systemd/system/supertracker.service

clean:
	rm -rf bin $(OUT) $(BENCH_OUT)

# The paper's reliability model against real runs (Figs. 2–4: success vs
# load, churn, replication) for the overlay and two baselines on the same
# workload and churn: n opentracker servers (Debian package opentracker)
# and a flat kad-dht. Writes docs/results.md and docs/figures/*.png; runs
# stay in $(OUT)/sweep (add SWEEP_FLAGS=--reuse to re-plot without
# re-running). The full sweep (54 runs of ~33 s) takes about 31 minutes on
# 2 cores; the CI test TestQuickSweep runs a 6-run version in ~70 s.
SWEEP_FLAGS ?=
figures: build
	$(GO) run ./testnet/sweep/cmd/sweep --binary $(BIN) --work $(OUT)/sweep --out docs/figures --md docs/results.md $(SWEEP_FLAGS)

# Regenerate protocol/pb from its .proto files (protoc 3.21 from Debian's
# protobuf-compiler; protoc-gen-go v1.36.12: go install
# google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
proto:
	cd protocol/pb && PATH="$$PATH:$$(go env GOPATH)/bin" protoc -I. --go_out=. --go_opt=paths=source_relative supertracker.proto probe.proto
	cd protocol && PATH="$$PATH:$$(go env GOPATH)/bin" protoc -I. --go_out=. --go_opt=paths=source_relative pb/bt.proto

# The paper's Fig. 2 claim with the election running (docs/load.md): peers
# 8–40, each tracker node capped at μ = 16 lookups/s (testnet/capped); n = 2
# opentracker servers vs the overlay, whose supernode count follows the
# load. 10 runs of ~3 min. To run it in parts (one lock each), pass
# SWEEP_FLAGS="--peers 40" (then 32,24 and 16,8) and assemble the page with
# SWEEP_FLAGS=--reuse, which reads the stored runs and runs none again.
load-figures: build
	$(GO) run ./testnet/sweep/cmd/sweep --plan election-load --binary $(BIN) --work $(OUT)/sweep --out docs/figures --md docs/load.md $(SWEEP_FLAGS)

# 1,000 real nodes in one process on go-libp2p's mocknet with wide-area
# RTTs (WonderNetwork) and BitTorrent churn (Stutzbach & Rejaie): the
# overlay and a flat kad-dht on the same schedule, one after the other.
# Writes scale-out/summary.json, report.md, report.json and plots; ~15 min
# and ≤ 11 GiB on 2 cores (see docs/scale.md). SCALE_FLAGS passes flags
# (e.g. --n 2000, --churn-speedup 10).
SCALE_FLAGS ?=
scale:
	$(GO) run ./testnet/scale/cmd/scale --out scale-out $(SCALE_FLAGS)

# The overlay side by side with a flat stock kad-dht and opentracker on the
# same workload (testnet/bench): lookup latency (P1), announce-to-findable
# (P2), registrations/s of one supernode (P3), idle leaf process (P4),
# bytes per record (P5) and growth with the supernode count, in 3
# interleaved rounds. Writes $(BENCH_OUT)/bench.json, bench.md, bench.png;
# the full run (~15 min on 2 cores) also docs/performance.md. QUICK=1: ~3 min.
# BENCH_FLAGS="--phases lookup --n 100": one phase, one size (for working
# on a row; such a partial run never writes docs/performance.md).
BENCH_OUT ?= bench-out
bench: build
	$(GO) build -o bin/supertracker-bench ./testnet/bench/cmd/bench
	./bin/supertracker-bench --binary $(LEAFBIN) --out $(BENCH_OUT) $(if $(QUICK),--quick,--docs docs/performance.md) $(BENCH_FLAGS)
