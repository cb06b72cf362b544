#!/usr/bin/env bash
# The one start command: installs what is missing from Debian, then brings up
# the whole local stack (PostgreSQL in .local/, migrations, demo data, Proxmox
# simulators, the four functions on http://127.0.0.1:54321/functions/v1/).
# Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/scripts/deps.sh
unset DATABASE_URL
exec go run ./infra/local
