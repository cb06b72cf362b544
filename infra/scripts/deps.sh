#!/usr/bin/env bash
# Installs what the tests and the local stack need from Debian's packages,
# only when missing: PostgreSQL server binaries and pgbouncer.
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql postgresql-contrib)
fi
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
command -v make >/dev/null 2>&1 || need+=(make)
# Headless Chromium for the browser CORS test (Debian's, not a downloaded build).
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing from Debian: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts a system cluster on install; ours run on their own ports, so
# it is left alone.

# The AWS Lambda Runtime Interface Emulator, what `sam local invoke` runs
# inside its container, from the Go module proxy (pinned).
RIE="github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d"
if ! command -v aws-lambda-rie >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/aws-lambda-rie" ]; then
  echo "installing aws-lambda-rie" >&2
  go install "$RIE"
fi

# supabase-js, playwright-core and ws for the real-client tests, exactly as locked.
if [ ! -d infra/client/node_modules/@supabase/supabase-js ] || [ infra/client/package-lock.json -nt infra/client/node_modules/.package-lock.json ]; then
  echo "installing infra/client node modules" >&2
  npm ci --prefix infra/client --no-audit --no-fund --loglevel=error >/dev/null
fi
