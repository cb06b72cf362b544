#!/usr/bin/env bash
# Installs what is missing, only when missing, saying what it does.
#   deps.sh stack   what the local stack needs: PostgreSQL (server and psql)
#   deps.sh         everything the tests need too: pgbouncer, make, Chromium,
#                   Node and npm, the Lambda emulator, infra/client's modules
set -euo pipefail
mode="${1:-all}"

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql postgresql-contrib)
fi
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
if [ "$mode" != stack ]; then
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
  command -v make >/dev/null 2>&1 || need+=(make)
  # Headless Chromium for the browser tests (Debian's, not a downloaded build).
  [ -x /usr/bin/chromium ] || need+=(chromium)
  command -v node >/dev/null 2>&1 || need+=(nodejs npm)
fi

if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "apt-get update (package lists)" >&2
  $SUDO apt-get update -qq
  echo "apt-get install ${need[*]} (downloads and unpacks; chromium alone is ~100 MB)" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "installed ${need[*]}" >&2
fi
# Debian starts a system cluster on install; ours run on their own ports, so
# it is left alone.
[ "$mode" = stack ] && exit 0

# The AWS Lambda Runtime Interface Emulator, what `sam local invoke` runs
# inside its container, from the Go module proxy (pinned).
RIE="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"
if ! command -v aws-lambda-rie >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/aws-lambda-rie" ]; then
  echo "go install aws-lambda-rie (Lambda Runtime Interface Emulator, pinned)" >&2
  go install "$RIE"
fi

# supabase-js, playwright-core and ws for the real-client tests, exactly as locked.
if [ ! -d infra/client/node_modules/@supabase/supabase-js ] || [ infra/client/package-lock.json -nt infra/client/node_modules/.package-lock.json ]; then
  echo "npm ci in infra/client (its locked modules: supabase-js, playwright-core, ws...)" >&2
  npm ci --prefix infra/client --no-audit --no-fund --loglevel=error >/dev/null
fi
