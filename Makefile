# grantwatch: one Go module, SAM functions built by build-<LogicalId> targets (style.md example 12).
GO      ?= go
ARCH    ?= arm64
BUILD    = CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath -buildvcs=false -tags lambda.norpc -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap

# need,<tool>,<hint>: fail with a clear message when a tool is missing.
need = @command -v $(1) >/dev/null 2>&1 || { echo "make: $(1) not found: $(2)" >&2; exit 1; }
GO_HINT   = install Go 1.26 (https://go.dev/dl/) or set GO=/path/to/go
PY_HINT   = it comes preinstalled with the machine image (../shared/docs/toolchain.md §0) and cannot be installed from here
TMUX_HINT = the CLI's screen tests run it as their terminal; it is a Debian package: run make tools (or apt-get install tmux)
SAM_HINT  = install the AWS SAM CLI (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html)

.PHONY: tools build-IngestFunction build-SweepFunction build-QueryFunction build-BackfillFunction build-ReconcileFunction build-checks grantwatch test unit lint golden bench fuzz demo deploy clean

# sam build runs these with ARTIFACTS_DIR set; ARCH=$(go env GOARCH) builds for the host (tests). The function
# behind each: IngestFunction (EventBridge CloudTrail events), SweepFunction (schedule), QueryFunction (HTTP API),
# BackfillFunction (on demand) and ReconcileFunction (schedule).
build-IngestFunction: build-checks
	$(BUILD) ./functions/ingest
build-SweepFunction: build-checks
	$(BUILD) ./functions/sweep
build-QueryFunction: build-checks
	$(BUILD) ./functions/query
build-BackfillFunction: build-checks
	$(BUILD) ./functions/backfill
build-ReconcileFunction: build-checks
	$(BUILD) ./functions/reconcile

# What every build-<LogicalId> needs before it builds.
build-checks:
	$(call need,$(GO),$(GO_HINT))
	@test -n "$(ARTIFACTS_DIR)" || { echo "make: ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }

grantwatch:
	$(call need,$(GO),$(GO_HINT))
	$(GO) build -o bin/grantwatch ./cmd/grantwatch

# The packages that run goroutines of their own, or whose tests race writers and sweeps: their tests run under the
# race detector. The rest (the domain, the edges, the template, and the function tests, whose code runs in
# bootstrap processes built by make) run without it, which keeps make test within a few minutes.
RACE_PKGS = ./pkg/app/... ./pkg/store/... ./pkg/alert/... ./pkg/archive/... ./pkg/emf/... ./pkg/lookup/... ./pkg/org/... \
            ./pkg/trail/... ./pkg/replay/... ./internal/... ./cmd/...

# tools installs what make test needs and a fresh machine of this kind may lack, from Debian's packages: tmux. The
# Python tools (moto_server, cfn-lint, aws) come with the machine image and cannot be installed from here.
tools:
	@command -v tmux >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null 2>&1 || { echo "make: tmux not found and no apt-get to install it: $(TMUX_HINT)" >&2; exit 1; }; \
	  echo "== installing tmux from Debian's packages (the CLI's screen tests run in it)"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq tmux >/dev/null || \
	    { echo "make: installing tmux failed: $(TMUX_HINT)" >&2; exit 1; }; }

# The full suite, moto-backed integration tests included.
test: lint tools
	$(call need,moto_server,$(PY_HINT))
	$(call need,tmux,$(TMUX_HINT))
	$(GO) test -tags integration -count=1 -race $(RACE_PKGS)
	$(GO) test -tags integration -count=1 $$($(GO) list -tags integration ./... | grep -vxF "$$($(GO) list -tags integration $(RACE_PKGS))")

# Unit tests only: no AWS endpoint needed.
unit:
	$(call need,$(GO),$(GO_HINT))
	$(GO) test ./...

lint:
	$(call need,$(GO),$(GO_HINT))
	$(call need,gofmt,it ships with Go: put $$(go env GOROOT)/bin on PATH)
	$(call need,cfn-lint,$(PY_HINT))
	@unformatted="$$(gofmt -l .)"; test -z "$$unformatted" || { echo "gofmt needed on:" >&2; echo "$$unformatted" >&2; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags integration ./...
	cfn-lint template.yaml deploy/member.yaml

# Rewrite golden files: only packages that import internal/golden accept -update. The CLI's screens need moto and tmux.
golden:
	$(call need,$(GO),$(GO_HINT))
	$(call need,moto_server,$(PY_HINT))
	$(call need,tmux,$(TMUX_HINT))
	$(GO) test ./pkg/trail ./pkg/replay -update
	$(GO) test -tags integration -count=1 -run TestScreens ./cmd/grantwatch -update

bench:
	$(call need,$(GO),$(GO_HINT))
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(call need,$(GO),$(GO_HINT))
	$(GO) test ./pkg/trail -run '^$$' -fuzz FuzzSplit -fuzztime 3m

demo:
	$(call need,bash,install bash)
	@test -f deploy/scripts/demo.sh || { echo "make: deploy/scripts/demo.sh is missing" >&2; exit 1; }
	bash deploy/scripts/demo.sh

# SAM_ENV picks a section of deploy/samconfig.toml (default, prod).
SAM_ENV ?= default
deploy:
	$(call need,sam,$(SAM_HINT))
	sam build --config-file deploy/samconfig.toml --config-env $(SAM_ENV) && sam deploy --guided --config-file deploy/samconfig.toml --config-env $(SAM_ENV)

clean:
	rm -rf bin .aws-sam
