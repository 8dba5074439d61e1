# hotpipe: `make demo` runs the main job on the default data dir (./data);
# `make test` is what CI runs; `make install` puts hotpipe on PATH.
GO        ?= go
FUZZTIME  ?=
DATA_DIR  ?= ./data
BIN       := ./hotpipe

# install copies the built binary to one directory, chosen in this order:
#   1. $(PREFIX)/bin when PREFIX is given (make install PREFIX=$HOME/.local);
#   2. else $(GOBIN) when set, in the environment or by `go env -w`, as
#      `go install` would;
#   3. else /usr/local/bin (PREFIX defaults to /usr/local).
# DESTDIR, for packagers, is prepended to it.
PREFIX_GIVEN := $(filter-out undefined default,$(origin PREFIX))
PREFIX    ?= /usr/local
GOBIN     ?= $(shell $(GO) env GOBIN)
INSTALL_DIR = $(if $(PREFIX_GIVEN),$(PREFIX)/bin,$(or $(GOBIN),$(PREFIX)/bin))

# build stamps the version `hotpipe version` prints: `git describe --tags
# --always --dirty`, the commit, and whether the tree had changes. Outside a
# git checkout nothing is stamped and the Go build info (or "devel") is used.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS    = $(if $(VERSION),-X main.version=$(VERSION) -X main.modified=$(if $(filter %-dirty,$(VERSION)),true,false)) \
             $(if $(COMMIT),-X main.commit=$(COMMIT))

.PHONY: build install demo test vet fmt fmtcheck lint fuzz fuzzsmoke cover bench bench-peers gobench torture clean s3server

# s3server installs the S3-compatible server the repository tests run
# against (versitygw, Apache-2.0) into a cache outside the repository, once:
# building it takes about six minutes, so an installed binary of the right
# version is kept. The tests find it through HOTPIPE_VERSITYGW, which
# `make test` sets; without it they look in the cache and on PATH, and fail
# (never skip) saying to run `make s3server`.
S3SERVER_VERSION ?= v1.8.0
S3SERVER_DIR     ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/hotpipe/bin
S3SERVER         := $(S3SERVER_DIR)/versitygw

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) .

install: build
	install -d '$(DESTDIR)$(INSTALL_DIR)'
	install -m 0755 $(BIN) '$(DESTDIR)$(INSTALL_DIR)/hotpipe'
	@echo "installed $(DESTDIR)$(INSTALL_DIR)/hotpipe"

# demo resets the databases foo and bar in $(DATA_DIR), backs foo up through
# bzip2 while a writer commits, restores bar from it and compares them.
demo: build
	HOTPIPE=$(BIN) DATA_DIR=$(DATA_DIR) bash scripts/demo.sh

test: export HOTPIPE_VERSITYGW := $(S3SERVER)
test: fmtcheck vet s3server
	$(GO) test -race -count=1 ./...
	$(GO) test -run='^$$' -bench=. -benchtime=1x ./... > /dev/null
	$(MAKE) fuzzsmoke

# The version check reads the module version Go stamped into the binary, so
# a cached build of another version is replaced.
s3server:
	@if $(GO) version -m '$(S3SERVER)' 2>/dev/null | grep -q 'mod[[:space:]]*github.com/versity/versitygw[[:space:]]*$(S3SERVER_VERSION)[[:space:]]'; then \
		echo "s3server: $(S3SERVER) ($(S3SERVER_VERSION))"; \
	else \
		echo "s3server: installing versitygw $(S3SERVER_VERSION) into $(S3SERVER_DIR) (a few minutes)"; \
		GOBIN='$(S3SERVER_DIR)' $(GO) install github.com/versity/versitygw/cmd/versitygw@$(S3SERVER_VERSION); \
	fi

fmtcheck:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

fmt:
	gofmt -w .

lint: fmtcheck vet

# Each fuzz target runs alone: go test -fuzz takes one package and one target.
# The smoke run (in `make test`) gives each a number of executions (about 3 s
# here) rather than a duration: with a duration, Go 1.26's coordinator can
# fail a clean run with "context deadline exceeded" on a loaded machine
# (go.dev/issue/75804). Minimizing is capped: engine targets fsync, so each
# execution is slow. FUZZTIME=5m fuzzes each target for that long instead.
FUZZ_TARGETS := ./txframe:FuzzDecode:100000 ./txframe:FuzzRoundTrip:100000 ./engine:FuzzRecover:300 ./engine:FuzzRecoverAfterSeals:300 \
	./engine:FuzzWatermarkSlots:100000 ./stream:FuzzReader:20000 ./stream:FuzzReadTail:20000 \
	./stream:FuzzDecompress:10000 ./stream:FuzzOpenAge:3000 ./stream:FuzzRekey:3000 ./stream:FuzzReadAhead:1000 ./txframe:FuzzFrames:20000 ./repo:FuzzCheckName:20000 ./repo:FuzzParseStoreURL:20000 \
	./repo:FuzzParseName:20000 ./repo:FuzzPlan:5000 ./repo:FuzzSummarize:5000 \
	./server:FuzzJobRequest:20000 ./server:FuzzQueryOptions:20000 ./backup:FuzzFileFrom:2000

fuzzsmoke:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; budget=$${rest##*:}x; \
		if [ -n "$(FUZZTIME)" ]; then budget=$(FUZZTIME); fi; \
		echo "fuzz $$pkg $$name for $$budget"; \
		$(GO) test $$pkg -run='^$$' -fuzz="^$$name$$" -fuzztime=$$budget -fuzzminimizetime=1s || exit 1; \
	done

fuzz:
	$(MAKE) fuzzsmoke FUZZTIME=5m

cover:
	$(GO) test -coverprofile=cover.out ./... && $(GO) tool cover -func=cover.out | tail -1

# bench measures hotpipe beside its physical references and writes
# BENCHMARKS.md; QUICK=1 uses smaller databases (about three minutes). The repository cases run
# against the S3 server s3server installs; the encryption case beside Debian's age CLI, which
# it installs when it can; the zero-copy row beside bench/splicecat, and pv when it installs.
bench: export HOTPIPE_VERSITYGW := $(S3SERVER)
bench: s3server
	@command -v age >/dev/null || apt-get install -y -qq age >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq age; } >/dev/null 2>&1 || \
		echo "bench: no age CLI (apt-get failed): the encryption row compares with the age library"
	@command -v pv >/dev/null || apt-get install -y -qq pv >/dev/null 2>&1 || \
		echo "bench: no pv (apt-get failed): the splice row compares with bench/splicecat only"
	$(GO) run ./bench/run $(if $(QUICK),-quick)

# bench-peers measures hotpipe beside PostgreSQL in the same run (commit
# rate, hot backup into a pipe, PITR, standby lag, backup verification) and
# writes the Peers section of BENCHMARKS.md, which `make bench` keeps.
# QUICK=1 for a short run. Not part of `make test`: CI needs no PostgreSQL.
# It installs Debian's postgresql package when initdb/pg_ctl are missing
# (apt-get, as root); the servers run as the postgres user on unix sockets
# in a temporary directory, removed at the end.
bench-peers:
	@if [ -z "$$PGBIN" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then \
		echo "bench-peers: PostgreSQL is missing: installing Debian's postgresql package"; \
		{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql || \
		  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }; } >/dev/null 2>&1 || \
		{ echo "bench-peers: could not install PostgreSQL (apt-get install postgresql failed; root and Debian's archive are needed):" \
			"install PostgreSQL's server programs and set PGBIN to their directory"; exit 1; }; \
	fi
	$(GO) run ./bench/run -peers $(if $(QUICK),-quick)

# torture is the long crash-torture and corruption campaign (`make test` runs
# a short one as part of ./...): 400 SIGKILLs, 2500 damaged bytes, every
# truncation, 450 power-cut images, 30 rounds each of lock loss, concurrent
# appends, stored backups and (as root, on a loop device) failed writeback.
# It writes RELIABILITY.md.
torture:
	$(GO) test ./torture -count=1 -timeout 60m -v \
		-args -kills 100 -flips 2500 -cuts 300 -reads 0 -powercuts 150 -rounds 30 -report $(CURDIR)/RELIABILITY.md

# gobench runs the Go micro-benchmarks (allocation counts included).
gobench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

clean:
	rm -f $(BIN) cover.out
