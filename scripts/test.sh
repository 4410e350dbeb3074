#!/usr/bin/env bash
# Set up, then lint, type-check and run the whole test suite, Docker tests included.
# Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
setup_env=$(bash "$repo/scripts/setup.sh")  # an assignment, so a failed setup stops here
eval "$setup_env"
tools_env=$(bash "$repo/scripts/test-tools.sh")
eval "$tools_env"
cd "$repo"
python -m ruff check grader tests benchmarks
python -m mypy grader
exec python -m pytest "$@"
