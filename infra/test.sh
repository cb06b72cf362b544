#!/usr/bin/env bash
# The one test command: installs missing system packages, then runs every
# Go test (real PostgreSQL, real TLS, real HTTP), vet included.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/scripts/deps.sh
go vet ./...
go test -count=1 -timeout 15m ./...
