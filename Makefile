# irisha — the usual kubebuilder targets. Tools are pinned and built into ./bin.

CONTROLLER_GEN_VERSION ?= v0.23.0
STATICCHECK_VERSION    ?= v0.8.2

BIN            := $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
STATICCHECK    := $(BIN)/staticcheck-$(STATICCHECK_VERSION)
TESTBIN        := $(BIN)/testbin/current

.PHONY: all
all: build

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC into config/.
	$(CONTROLLER_GEN) crd rbac:roleName=irisha-manager paths=./api/... paths=./internal/controller/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: fmt
fmt: ## gofmt every Go file.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: $(STATICCHECK) ## go vet and staticcheck.
	go vet ./...
	$(STATICCHECK) ./...

.PHONY: verify
verify: generate manifests ## Fail if generated files are stale or code is not gofmt'ed.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run make fmt"; exit 1; }
	@git diff --exit-code -- api config || { echo "generated files are stale: run make generate manifests and commit"; exit 1; }

.PHONY: testbin
testbin: ## Build the control-plane binaries (etcd, kube-*, kwok) into bin/testbin, cached by version.
	hack/testbin/install.sh

.PHONY: test
test: testbin verify vet ## Run every test: unit, fuzz seeds, envtest and simulated-cluster integration tests.
	go test -count=1 -timeout 20m ./...

.PHONY: test-unit
test-unit: ## Only the tests that need no control plane.
	go test -count=1 -short ./...

##@ Benchmarks (long; tables go to docs/benchmarks.md)

.PHONY: bench-outage
bench-outage: testbin ## Control-plane outage benchmark: API server cut 30 s and 120 s, 2 s latency 60 s; reference vs irisha with and without node witnesses (~45 min).
	go run ./bench/outage -v

.PHONY: bench-backup
bench-backup: testbin ## Backup benchmark: 50 irisha backups and 50 runs of the reference's freeze/snapshot/thaw script, alternated, one simulated cluster, snapshots ready 3 s after the cut (~7 min).
	go run ./bench/backup

.PHONY: bench-failover
bench-failover: testbin ## Failover benchmark, reference vs irisha (Lease, NodeShutdown), simulated cluster, Kubernetes' default timings (~40 min).
	go run ./bench/failover -v

##@ Build and run

.PHONY: build
build: ## Build bin/irisha and bin/irisha-manager.
	go build -o $(BIN)/irisha ./cmd/irisha
	go build -o $(BIN)/irisha-manager ./cmd/irisha-manager

.PHONY: run
run: manifests ## Install the CRDs into the current kubeconfig's cluster and run the operator locally.
	kubectl apply --server-side -f config/crd/bases
	go run ./cmd/irisha-manager operator

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN)/tmp-controller-gen go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/tmp-controller-gen/controller-gen $@ && rmdir $(BIN)/tmp-controller-gen

$(STATICCHECK):
	GOBIN=$(BIN)/tmp-staticcheck go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/tmp-staticcheck/staticcheck $@ && rmdir $(BIN)/tmp-staticcheck

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-14s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
