# sam build runs `make build-<LogicalId>` here (Metadata BuildMethod: makefile)
# with ARTIFACTS_DIR set. Each target builds one function as a static
# `bootstrap` for provided.al2023: no cgo, no RPC shim (lambda.norpc).
GOARCH ?= arm64
GO_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH) go build -trimpath -tags lambda.norpc -ldflags "-s -w" -o $(ARTIFACTS_DIR)/bootstrap

build-ProxmoxServersFunction:
	$(GO_BUILD) ./functions/proxmox-servers/bootstrap

build-ListVmsFunction:
	$(GO_BUILD) ./functions/list-vms/bootstrap

build-TenantsFunction:
	$(GO_BUILD) ./functions/tenants/bootstrap

build-TenantStatsFunction:
	$(GO_BUILD) ./functions/tenant-stats/bootstrap

.PHONY: build-ProxmoxServersFunction build-ListVmsFunction build-TenantsFunction build-TenantStatsFunction
