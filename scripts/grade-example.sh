#!/usr/bin/env bash
# The main job on its bundled default: set up, then grade an example submission in Docker.
#   bash scripts/grade-example.sh                 # the tabular task's reference solution
#   bash scripts/grade-example.sh nlp|cv|tabular  # the reference solution of that suite's task
#   bash scripts/grade-example.sh PATH [--out DIR ...]   # any submission; extra arguments go to `grader grade`
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
setup_env=$(bash "$repo/scripts/setup.sh")  # an assignment, so a failed setup stops here
eval "$setup_env"
cd "$repo"
declare -A suites=([tabular]=tabular/credit-default [nlp]=nlp/food-reviews [cv]=cv/fashion-mnist)
suite=${1:-tabular}
if [ -n "${suites[$suite]:-}" ]; then
  shift $(( $# > 0 ? 1 : 0 ))
  set -- "tasks/${suites[$suite]}/examples/reference" --out "out/example-$suite" "$@"
fi
exec grader grade "$@"
