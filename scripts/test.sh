#!/usr/bin/env bash
# Set up, then run the whole test suite, Docker tests included. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
setup_env=$(bash "$repo/scripts/setup.sh")  # an assignment, so a failed setup stops here
eval "$setup_env"
cd "$repo"
exec python -m pytest "$@"
