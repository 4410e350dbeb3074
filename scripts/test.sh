#!/usr/bin/env bash
# Set up, then run the whole test suite, Docker tests included. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$repo/scripts/setup.sh"
cd "$repo"
exec python -m pytest "$@"
