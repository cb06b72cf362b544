#!/usr/bin/env bash
# The one start command: installs what the stack needs and is missing
# (PostgreSQL, from Debian), builds the local server, then becomes it (exec):
# PostgreSQL in .local/, migrations, demo data, Proxmox simulators, the four
# functions on http://127.0.0.1:54321/functions/v1/ and the dashboard at /.
# Ctrl-C, or SIGINT/SIGTERM to the printed PID, stops everything it started.
# ADDR and DB_PORT move it to other ports; STACK_DIR to another folder.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/scripts/deps.sh stack
unset DATABASE_URL
bin=".local/bin/pvetenant-local"
mkdir -p .local/bin
start=$(date +%s)
echo "building the local server (go build ./infra/local; up to ~30 s on a cold cache)" >&2
go build -o "$bin" ./infra/local
echo "built in $(( $(date +%s) - start )) s" >&2
# exec: the server gets this script's PID, so signals sent to it reach the
# server, which stops PostgreSQL and the simulators and exits 0.
exec "$bin"
