# Call Connect: what a developer and CI run. `make run` and `make test` are
# all a newcomer needs (README.md). Every recipe is one bash script that stops
# at the first failing command.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go
BIN := bin/callconnect
# The checkout's cluster of `make run`. It outlives the service, so the
# next `make run` starts in a second; `make stop` stops it. pgcluster finds
# it from the checkout: .data/postgres, or as root (PostgreSQL then runs as
# the postgres user, who may not enter the checkout) a directory outside it
# named after the checkout's path (`go run ./cmd/pgcluster dir $(PG_CLUSTER)`).
DATA_DIR := .data
PG_CLUSTER := -checkout .
PG_PORT ?= 54329
# Pinned: a new release may add lint rules and fail a build that passed.
REDOCLY := @redocly/cli@2.77.0
# Where lint-openapi writes the document it lints.
TMP ?= $(or $(TMPDIR),/tmp)

.PHONY: help run demo stop build image test bench faults fuzz generate check-generated lint-openapi fmt vet

help:
	@printf '  %-22s %s\n' \
		'make run' "serve on HTTP_ADDR; the checkout's PostgreSQL cluster unless DATABASE_URL is set" \
		'' '(Ctrl-C stops the service; the cluster keeps running for the next run)' \
		'make demo' 'make run with a demo environment, a partner-sim and a pretend CRM at /demo/ (prints its URL)' \
		'make stop' "stop the checkout's PostgreSQL cluster" \
		'make test' 'all tests against a throw-away PostgreSQL, check-generated, lint-openapi, fuzz for 2s each' \
		'make build' "compile every package and $(BIN)" \
		'make image' "the container image $(IMAGE) (podman, buildah or docker; see docs/operations.md)" \
		'make bench' 'every benchmark (the built binary through its HTTP API), 3 runs each, on throw-away clusters with and without durability; writes bench/REPORT.md' \
		'make faults' 'the fault suite at full size (kills, PostgreSQL restarts, a failing audio store, SIGTERM)' \
		'make fuzz' 'every fuzz target for FUZZTIME (default 5s) each' \
		'make generate' 'regenerate the sqlc code' \
		'make check-generated' 'fail when the committed sqlc code is stale' \
		'make lint-openapi' "lint the OpenAPI document with Redocly's recommended rules" \
		'make fmt, make vet' 'go fmt, go vet'

# demo is run with a demo environment, a partner-sim in the same process
# and a pretend CRM at /demo/ (README: See it work); its partner-sim's
# secrets are kept in $(DATA_DIR)/demo.json for the next run.
run demo:
	@mkdir -p $(DATA_DIR)
	# Secrets are made once per checkout and kept readable by the owner only.
	if [ -z "$${CALLCONNECT_SECRETS_KEY:-}" ]; then
		[ -s $(DATA_DIR)/secrets.key ] || (umask 077; head -c 32 /dev/urandom | base64 > $(DATA_DIR)/secrets.key)
		CALLCONNECT_SECRETS_KEY="$$(cat $(DATA_DIR)/secrets.key)"
		export CALLCONNECT_SECRETS_KEY
	fi
	if [ -z "$${CALLCONNECT_ADMIN_TOKEN:-}" ]; then
		[ -s $(DATA_DIR)/admin-token ] || (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > $(DATA_DIR)/admin-token)
		CALLCONNECT_ADMIN_TOKEN="$$(cat $(DATA_DIR)/admin-token)"
		export CALLCONNECT_ADMIN_TOKEN
		echo "admin token (CALLCONNECT_ADMIN_TOKEN) is in $(DATA_DIR)/admin-token:" \
			'curl -H "Authorization: Bearer $$(cat $(DATA_DIR)/admin-token)" ...' >&2
	fi
	if [ -z "$${DATABASE_URL:-}" ]; then
		pg_dir="$$($(GO) run ./cmd/pgcluster dir $(PG_CLUSTER))"
		DATABASE_URL="$$($(GO) run ./cmd/pgcluster start $(PG_CLUSTER) -port $(PG_PORT))"
		export DATABASE_URL
		echo "PostgreSQL: $$DATABASE_URL (cluster in $$pg_dir; it keeps running for the next make run; make stop stops it)" >&2
	fi
	$(GO) build -o $(BIN) ./cmd/callconnect
	# No load balancer sits in front of a developer's service: Ctrl-C stops
	# it at once instead of first answering 503 on /readyz for the drain.
	export CALLCONNECT_SHUTDOWN_DRAIN="$${CALLCONNECT_SHUTDOWN_DRAIN:-0s}"
	if [ "$@" = demo ]; then
		exec $(BIN) demo -state $(DATA_DIR)/demo.json
	fi
	exec $(BIN) serve

stop:
	@$(GO) run ./cmd/pgcluster stop $(PG_CLUSTER)

build:
	@$(GO) build ./...
	$(GO) build -o $(BIN) ./cmd/callconnect

# image builds the service's container image, $(IMAGE), with podman, else
# buildah, else docker (ENGINE=… picks one): FROM scratch, so nothing is
# pulled. The Go toolchain compiles the static binary here (CGO_ENABLED=0;
# its version is git describe's, and the go command stamps the commit), and
# deploy/Containerfile copies it in with the CA certificates. podman and
# buildah write the image in docker's format, which keeps its HEALTHCHECK
# (OCI's has none).
IMAGE ?= callconnect:latest
ENGINE ?= $(or $(shell command -v podman 2>/dev/null),$(shell command -v buildah 2>/dev/null),$(shell command -v docker 2>/dev/null))
image:
	@if [ -z "$(ENGINE)" ]; then
		echo "make image: needs podman, buildah or docker (Debian: apt-get install podman)" >&2
		exit 1
	fi
	ctx="$$(mktemp -d "$(TMP)/callconnect-image.XXXXXX")"
	trap 'rm -rf "$$ctx"' EXIT
	version="$$(git describe --tags --always --dirty 2>/dev/null || echo devel)"
	revision="$$(git rev-parse HEAD 2>/dev/null || echo unknown)"
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=true -ldflags "-s -w -X main.version=$$version" \
		-o "$$ctx/callconnect" ./cmd/callconnect
	cp /etc/ssl/certs/ca-certificates.crt "$$ctx/"
	mkdir "$$ctx/tmp" "$$ctx/data"
	format=()
	case "$$(basename "$(ENGINE)")" in podman|buildah) format=(--format docker) ;; esac
	"$(ENGINE)" build "$${format[@]}" \
		--label org.opencontainers.image.title=callconnect \
		--label org.opencontainers.image.version="$$version" \
		--label org.opencontainers.image.revision="$$revision" \
		-t "$(IMAGE)" -f deploy/Containerfile "$$ctx"
	echo "make image: $(IMAGE) ($$version), built with $$(basename "$(ENGINE)")" >&2

# with-test-cluster starts a throw-away PostgreSQL for the rest of the recipe
# and exports its URL as CALLCONNECT_TEST_DATABASE_URL. The cluster is stopped
# and its directory removed however the recipe ends (failure, Ctrl-C, TERM).
define with-test-cluster
work="$$(mktemp -d "$(TMP)/callconnect-test.XXXXXX")"
cleanup() {
	if [ -x "$$work/pgcluster" ] && ! out="$$("$$work/pgcluster" stop -dir "$$work/postgres" 2>&1)"; then
		echo "$$out" >&2
	fi
	rm -rf "$$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The server runs as the postgres user when we are root: let it through.
chmod 711 "$$work"
$(GO) build -o "$$work/pgcluster" ./cmd/pgcluster
CALLCONNECT_TEST_DATABASE_URL="$$("$$work/pgcluster" start -ephemeral -dir "$$work/postgres")"
export CALLCONNECT_TEST_DATABASE_URL
# Tests never touch the database of `make run` or of a deployment.
unset DATABASE_URL
endef

# check-generated, lint-openapi and a short fuzz run (CI_FUZZTIME per
# target) speak only when they fail, and run first, so that the run ends
# with go test's summary (the fault suite runs there in its short form).
CI_FUZZTIME ?= 2s
test:
	@$(with-test-cluster)
	failed=()
	for check in check-generated lint-openapi fuzz; do
		if ! $(MAKE) $$check FUZZTIME=$(CI_FUZZTIME) > "$$work/$$check.log" 2>&1; then
			cat "$$work/$$check.log" >&2
			failed+=("$$check")
		fi
	done
	$(GO) test -race -count=1 ./... || failed+=("go test")
	if (( $${#failed[@]} )); then
		echo "make test: FAILED: $${failed[*]}" >&2
		exit 1
	fi

# bench runs every benchmark (cmd/benchreport: each three times; the built
# binary's through its HTTP API) and writes bench/REPORT.md: each goal with
# its figure, the baseline measured in the same run, and a verdict. Two
# throw-away clusters: the test cluster (durability off) and a durable one
# (fsync, synchronous_commit, full_page_writes on), on the disk of $(TMP).
# pgbench is the baseline of several goals: it comes with the PostgreSQL
# server package on Debian and Ubuntu (which make test needs anyway), with
# postgresql-contrib elsewhere; when it is missing and apt-get can install
# it, it is installed. It takes about 15 minutes on 2 cores.
bench:
	@$(with-test-cluster)
	if ! command -v pgbench >/dev/null && ! ls "$${PG_BINDIR:-/nonexistent}/pgbench" /usr/lib/postgresql/*/bin/pgbench /usr/pgsql-*/bin/pgbench >/dev/null 2>&1; then
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
			echo "make bench: pgbench is missing; installing postgresql-contrib" >&2
			apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-contrib >&2
		else
			echo "make bench: pgbench is missing: install it (Debian/Ubuntu: it comes with postgresql-NN; RPM: postgresql-contrib) or set PG_BINDIR to its directory" >&2
			exit 1
		fi
	fi
	stop_durable() {
		if ! out="$$("$$work/pgcluster" stop -dir "$$work/durable" 2>&1)"; then
			echo "$$out" >&2
		fi
		cleanup
	}
	trap stop_durable EXIT
	CALLCONNECT_BENCH_DURABLE_DATABASE_URL="$$("$$work/pgcluster" start -durable -dir "$$work/durable")"
	export CALLCONNECT_BENCH_DURABLE_DATABASE_URL
	if [ "$$(stat -f -c %T "$$work")" = tmpfs ]; then
		echo "make bench: $$work is on tmpfs: the durable cluster's fsync goes to memory; set TMP to a directory on a disk" >&2
	fi
	$(GO) run ./cmd/benchreport -o bench/REPORT.md

# faults runs the fault suite (cmd/callconnect TestFault*) at full size;
# make test runs it in a short form. It prints each test's checked counts
# and "N passed, M failed".
faults:
	@$(with-test-cluster)
	echo "make faults: the fault suite at full size takes a few minutes; the summary comes at the end" >&2
	CALLCONNECT_FAULTS=full $(GO) test -count=1 -json -timeout 20m -run '^TestFault' ./cmd/callconnect |
		$(GO) run ./cmd/testsummary

# fuzz runs every fuzz target of the partner-input parsers for FUZZTIME
# each (seed corpora are in testdata/fuzz and also run in make test, which
# runs this for CI_FUZZTIME). The targets are found in the _test.go files.
# A failing input is written to the target's testdata/fuzz directory. Go
# 1.26's fuzzer may also fail a target at the end of -fuzztime with a bare
# "context deadline exceeded" and no input (golang/go#75804): such a target
# is run once more, and reported, not failed, when that happens again.
FUZZTIME ?= 5s
fuzz:
	@failed=()
	n=0
	inputs() { { ls "$$1/testdata/fuzz/$$2" 2>/dev/null || true; } | wc -l; }
	while read -r dir target; do
		n=$$((n + 1))
		echo "fuzz: $$dir $$target ($(FUZZTIME))"
		for try in 1 2; do
			before=$$(inputs "$$dir" "$$target")
			if out="$$($(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) "$$dir" 2>&1)"; then
				break
			fi
			if [ "$$(inputs "$$dir" "$$target")" = "$$before" ] && grep -q 'context deadline exceeded' <<<"$$out"; then
				echo "fuzz: $$target stopped with the fuzzer's deadline race (golang/go#75804), no failing input (try $$try)"
				continue
			fi
			echo "$$out" >&2
			failed+=("$$dir $$target")
			break
		done
	done < <(grep -rEo --include='*_test.go' --exclude-dir=.git --exclude-dir=.data --exclude-dir=node_modules '^func Fuzz[A-Za-z0-9_]*' . |
		sed -E 's|^(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)$$|\1 \2|' | sort)
	if (( $${#failed[@]} )); then
		echo "fuzz: $${#failed[@]} of $$n targets FAILED: $${failed[*]}" >&2
		exit 1
	fi
	echo "fuzz: $$n targets, $(FUZZTIME) each, no failing input"

generate:
	@$(GO) tool sqlc generate

check-generated:
	@if [ ! -e sqlc.yaml ] && [ ! -e sqlc.yml ] && [ ! -e sqlc.json ]; then
		echo "check-generated: no sqlc.yaml yet, so nothing generated to compare" >&2
		exit 0
	fi
	$(GO) tool sqlc diff

lint-openapi:
	@doc="$$(mktemp "$(TMP)/callconnect-openapi.XXXXXX.json")"
	trap 'rm -f "$$doc"' EXIT
	$(GO) run ./cmd/callconnect openapi > "$$doc"
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		npx --yes $(REDOCLY) lint --extends=recommended "$$doc"

fmt:
	@$(GO) fmt ./...

vet:
	@$(GO) vet ./...
