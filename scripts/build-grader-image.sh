#!/usr/bin/env bash
# Build the grader's own image (the top-level Dockerfile), reusing an identical one.
#
#   bash scripts/build-grader-image.sh [--tag NAME] [--base IMAGE] [--from-pypi] [--force]
#
# By default the build needs no network: the grader's wheel and those of its dependencies (CPython
# 3.11, manylinux for the engine's architecture) are pip-downloaded on the host into the build
# context (dist/, wheels/), and the build installs from there alone (--no-index, --network none).
# --from-pypi leaves the wheels out, so pip inside the build fetches from PyPI (needs network).
#
# The base is --base (or $BASE_IMAGE), else the one `grader sandbox build` uses: python:3.11-slim-bookworm
# when present or pullable, else the debootstrap base grader-base:bookworm (made when missing).
# The image is tagged grader:<hash> (the sha256 of the context, the base image's id and the mode),
# labelled grader.image-hash=<hash>, and tagged NAME too (default grader:latest). When grader:<hash>
# exists already it is reused (no download, no build); --force rebuilds it without the layer cache.
#
# Progress goes to stderr; the last line on stdout is the image's grader:<hash> tag.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# What the image is made of: the same list as the allowlist in .dockerignore.
context_paths=(Dockerfile pyproject.toml README.md grader tasks rubrics sandbox)
tag=grader:latest
base=${BASE_IMAGE:-}
mode=wheels
force=0
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=${2:?--tag needs a name}; shift 2 ;;
    --base) base=${2:?--base needs an image}; shift 2 ;;
    --from-pypi) mode=pypi; shift ;;
    --force) force=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "build-grader-image: unknown argument $1" >&2; usage ;;
  esac
done
say() { echo "build-grader-image: $*" >&2; }
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$repo/.venv/bin/python" ]; then PYTHON=$repo/.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
started=$(date +%s)

# 1. the base image: the runtime image's own choice (grader.sandbox.docker.image), unless given
if [ -z "$base" ]; then
  base=$("$PYTHON" -c 'import sys
from grader.sandbox.docker.client import connect
from grader.sandbox.docker.image import ensure_base_image
print(ensure_base_image(connect(), lambda message: print(message, file=sys.stderr)))')
fi
base_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null || echo "$base")
say "base image $base"

# 2. the context, in a folder of its own (parallel builds do not share one)
cache=${GRADER_CACHE_DIR:-$HOME/.cache/grader}/grader-image
mkdir -p "$cache"
context=$(mktemp -d "$cache/context.XXXXXX")
trap 'rm -rf "$context"' EXIT
tar -C "$repo" --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' --exclude=sandbox/wheelhouse \
  -cf - "${context_paths[@]}" | tar -C "$context" -xf -
hash=$("$PYTHON" - "$context" "$base_id" "$mode" <<'PY'
import hashlib, os, sys

root, extra = sys.argv[1], sys.argv[2:]
digest = hashlib.sha256()
for folder, dirs, files in os.walk(root):
    dirs.sort()
    for name in sorted(files):
        path = os.path.join(folder, name)
        digest.update(os.path.relpath(path, root).encode() + b"\0")
        digest.update(oct(os.stat(path).st_mode & 0o111).encode() + b"\0")
        with open(path, "rb") as fh:
            digest.update(fh.read() + b"\0")
for value in extra:
    digest.update(value.encode() + b"\0")
print(digest.hexdigest()[:12])
PY
)
image=grader:$hash
if [ "$force" = 0 ] && docker image inspect "$image" >/dev/null 2>&1; then
  docker tag "$image" "$tag"
  say "reusing $image (same context and base), tagged $tag"
  echo "$image"
  exit 0
fi

# 3. the wheelhouse: the grader's wheel and its dependencies', for the engine's platform
build_args=()
if [ "$force" = 1 ]; then build_args+=(--no-cache); fi
if [ "$mode" = wheels ]; then
  arch=$(docker version --format '{{.Server.Arch}}')
  case "$arch" in amd64) arch=x86_64 ;; arm64) arch=aarch64 ;; esac
  platforms=$("$PYTHON" -c 'import sys
from grader.sandbox.docker.image import GLIBC_MINOR
arch = sys.argv[1]
tags = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 16, -1)]
print(" ".join(tags + [f"manylinux2014_{arch}", f"manylinux2010_{arch}", f"manylinux1_{arch}"]))' "$arch")
  platform_args=()
  for platform in $platforms; do platform_args+=(--platform "$platform"); done
  say "downloading the wheelhouse (CPython 3.11, $arch)"
  # The grader's wheel in dist/, its dependencies' in wheels/: the Dockerfile installs them in separate
  # layers, so a change to the grader's code reuses the dependencies' layer.
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$context/dist" "$context" >&2
  rm -rf "$context/build" "$context"/*.egg-info
  "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --python-version 3.11 \
    --implementation cp --abi cp311 "${platform_args[@]}" -d "$context/wheels" "$context"/dist/grader-*.whl >&2
  # pip evaluates the dependencies' markers for this interpreter, not the image's (Debian 12's Python
  # 3.11.2): fetch what the image's Python needs besides (redis needs async-timeout before 3.11.3).
  for _ in 1 2 3; do
    missing=$("$PYTHON" - "$context/wheels" "${IMAGE_PYTHON:-3.11.2}" <<'PY'
import sys, zipfile
from pathlib import Path
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
folder, version = Path(sys.argv[1]), sys.argv[2]
env = {**default_environment(), "python_full_version": version, "python_version": ".".join(version.split(".")[:2])}
have, wanted = set(), set()
for wheel in folder.glob("*.whl"):
    have.add(canonicalize_name(wheel.name.split("-")[0]))
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        for line in archive.read(meta).decode().splitlines():
            if line.startswith("Requires-Dist:"):
                req = Requirement(line.split(":", 1)[1].strip())
                if req.marker is None or req.marker.evaluate({**env, "extra": ""}):
                    wanted.add(str(req.name) + str(req.specifier))
print(" ".join(sorted(w for w in wanted if canonicalize_name(Requirement(w).name) not in have)))
PY
)
    [ -z "$missing" ] && break
    say "also for the image's Python: $missing"
    # shellcheck disable=SC2086 - one argument per requirement
    "$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: --python-version 3.11 \
      --implementation cp --abi cp311 "${platform_args[@]}" -d "$context/wheels" $missing >&2
  done
  rm -f "$context"/wheels/grader-*.whl
  say "$(find "$context/wheels" -name '*.whl' | wc -l) wheels, $(du -sh "$context/wheels" | cut -f1)"
  build_args+=(--network none)
fi

# 4. the build
say "building $image on $base ($mode)"
docker build "${build_args[@]}" --build-arg "BASE_IMAGE=$base" --build-arg "IMAGE_HASH=$hash" \
  -t "$image" -t "$tag" "$context" >&2
size=$(docker image inspect --format '{{.Size}}' "$image")
say "built $image (also $tag) in $(($(date +%s) - started))s, $((size / 1000000)) MB"
echo "$image"
