#!/usr/bin/env bash
# The benchmark command (not part of the test command): every figure in the
# README, the 30-second load run, and longer fuzzing. Speed and memory are
# measured here, never asserted in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
infra/scripts/deps.sh

echo "== RLS: one member's servers among 100,000 (owner vs RLS)"
go test -run '^$' -bench ListServersRLS -benchtime 3s ./sql/migrations/
echo "== tenant-stats: fan-out, hanging server, aggregation, warm cache"
go test -run '^$' -bench 'Fanout|Hanging' -benchtime 10x ./functions/tenant-stats/
go test -run '^$' -bench 'Aggregate|WarmCache' -benchmem -benchtime 2s ./functions/tenant-stats/
echo "== tenant-stats fleet: Proxmox calls per server per TTL (K processes), cached answer with a 1 ms database"
go test -run '^$' -bench 'FleetCallsPerTTL' -benchtime 1x ./infra/fleet/
go test -run '^$' -bench 'CachedLiveStatsWith1msDatabase' -benchtime 400x ./infra/fleet/
echo "== Lambda: binary size and cold start under the emulator (median of 7)"
go test -run '^$' -bench ColdStart -benchtime 7x ./infra/sam/
echo "== building blocks"
go test -run '^$' -bench . -benchmem ./shared/auth/ ./shared/secrets/ ./shared/proxmox/
echo "== warm-cache get-live-stats over real HTTP on the local stack"
go run ./infra/cmd/load -duration 10s -clients 8 -only "tenant-stats get-live-stats"
echo "== load: mixed traffic over the four functions"
go run ./infra/cmd/load -duration "${LOAD_DURATION:-30s}" -clients "${LOAD_CLIENTS:-16}"
echo "== fuzzing, ${LONG_FUZZTIME:=60s} per target"
for target in "FuzzParseParams ./shared/httpapi" "FuzzVerify ./shared/auth" "FuzzDecoders ./shared/proxmox" "FuzzEvent ./shared/lambdahttp"; do
  set -- $target
  go test -run '^$' -fuzz "^$1\$" -fuzztime "$LONG_FUZZTIME" "$2"
done
