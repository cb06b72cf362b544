#!/usr/bin/env bash
# The one test command: installs what is missing (Debian packages, the Lambda
# emulator, the client tests' node modules), then runs every Go test (real
# PostgreSQL, real TLS, real HTTP, the emulator, Node and Chromium clients),
# vet included, and each fuzz target for a fixed number of executions.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/scripts/deps.sh
go vet ./...

# Every answer and log line the tests capture is recorded for the secrets
# sweep, which runs after the tests: no secret may appear in any of them.
SECRET_SWEEP_DIR="$(mktemp -d)"
export SECRET_SWEEP_DIR
trap 'rm -rf "$SECRET_SWEEP_DIR"' EXIT
go test -count=1 -timeout 15m ./...
# No test may leave a PostgreSQL running: testdb.Run stops its own, so a
# cluster whose test process is gone means a test exited before teardown.
for owner in "${TMPDIR:-/tmp}"/testdb-*/testdb.owner; do
  [ -f "$owner" ] || continue
  if ! kill -0 "$(cat "$owner")" 2>/dev/null && [ -f "$(dirname "$owner")/postmaster.pid" ]; then
    echo "a test left PostgreSQL running in $(dirname "$owner")" >&2
    exit 1
  fi
done
go run ./infra/cmd/sweep "$SECRET_SWEEP_DIR"

# Fuzzing, a fixed number of executions per target rather than seconds, so a
# loaded machine fuzzes as much as an idle one (FUZZTIME to change it, e.g.
# 30s; the committed corpora under testdata/fuzz run in every plain
# `go test` too).
FUZZTIME="${FUZZTIME:-2000x}"
for target in \
  "FuzzParseParams ./shared/httpapi" \
  "FuzzVerify ./shared/auth" \
  "FuzzDecoders ./shared/proxmox" \
  "FuzzEvent ./shared/lambdahttp"; do
  set -- $target
  go test -run '^$' -fuzz "^$1\$" -fuzztime "$FUZZTIME" "$2"
done
