#!/usr/bin/env bash
# Set up everything grading needs on a fresh machine, reusing what is already there:
# a virtualenv with the grader, a reachable Docker engine, and the sandbox runtime image.
# Progress goes to stderr; stdout is the environment to use, so `eval "$(bash scripts/setup.sh)"`
# puts the venv on PATH and exports DOCKER_HOST in your shell.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup: the grader needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
if [ ! -x "$repo/.venv/bin/grader" ] || [ "$repo/pyproject.toml" -nt "$repo/.venv/.installed" ]; then
  echo "setup: installing the grader into $repo/.venv" >&2
  "$python" -m venv "$repo/.venv"
  "$repo/.venv/bin/pip" install -q --upgrade pip >&2
  "$repo/.venv/bin/pip" install -q -e "$repo[test]" >&2
  touch "$repo/.venv/.installed"
fi
DOCKER_HOST=$(bash "$repo/.ci/docker-up.sh" | tail -n 1)
export DOCKER_HOST
"$repo/.venv/bin/grader" sandbox build >&2
echo "setup: ready (DOCKER_HOST=$DOCKER_HOST)" >&2
printf 'export DOCKER_HOST=%q\nexport PATH=%q:"$PATH"\n' "$DOCKER_HOST" "$repo/.venv/bin"
