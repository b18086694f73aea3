# supertracker: build, test, run a local testnet.
GO      ?= go
BIN     := bin/supertracker
OUT     ?= testnet-out
PREFIX  ?= /usr/local

.PHONY: build test testnet fuzz figures install clean

build:
	$(GO) build -o $(BIN) ./cmd/supertracker

# vet, then every test with the race detector (unit, in-process multi-node,
# and end-to-end tests that run the real binary as processes on 127.0.0.x).
test:
	$(GO) vet ./...
	$(GO) test -race -timeout 20m ./...

# A local overlay of real processes, driven, measured and stopped.
testnet: build
	./$(BIN) testnet --out $(OUT)

# Short runs of every fuzz target (longer: make fuzz FUZZTIME=5m).
FUZZTIME ?= 20s
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/supertracker

clean:
	rm -rf bin $(OUT)
