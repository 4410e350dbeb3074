#!/usr/bin/env bash
# The main job on its bundled default: set up, then grade the example submission in Docker.
# Extra arguments go to `grader grade` (e.g. another submission folder, --out DIR).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
setup_env=$(bash "$repo/scripts/setup.sh")  # an assignment, so a failed setup stops here
eval "$setup_env"
cd "$repo"
if [ $# -eq 0 ]; then
  set -- tasks/tabular/credit-default/examples/reference --out out/example
fi
exec grader grade "$@"
