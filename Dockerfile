# The grader itself, as an image that grades through the host's Docker socket (README: "In CI and
# as a container"). Two ways to build it:
#
#   docker build -t grader .                  # pip inside the build fetches from PyPI
#   bash scripts/build-grader-image.sh        # no network in the build: the wheels are pip-downloaded
#                                             # on the host into the context (wheels/, dist/)
#
# Only the classic builder's features are used (no BuildKit mounts). Works on two bases with
# Python 3.11: python:3.11-slim-bookworm (the default) and the debootstrap base grader-base:bookworm
# that `grader sandbox build` makes offline (--build-arg BASE_IMAGE=grader-base:bookworm).
#
#   docker run --rm --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD/out:/out" \
#     grader grade /opt/grader/tasks/tabular/credit-default/examples/reference --out /out/reference
#
# Files move into sandboxes as tar streams through the API, so no host path is ever bind-mounted
# into a sandbox. The grader runs as the unprivileged user `grader` (uid 1000): --group-add gives it
# the socket's group; the folder mounted on /out must be writable by uid 1000, or pass
# --user "$(id -u):$(id -g)" to run as yourself (any uid works, with or without a passwd entry).
# The sandbox runtime image must exist on the engine (`grader sandbox build`, on the host or here).
ARG BASE_IMAGE=python:3.11-slim-bookworm

# -- dependencies: a venv of pyproject.toml's dependencies, from wheels/ when the context has it ---
# A layer of its own, so a change to the grader's code reuses it. `wheel[s]` copies the wheels'
# files when the folder exists and nothing otherwise (the plain context has none).
FROM ${BASE_IMAGE} AS deps
COPY pyproject.toml wheel[s] /deps/
RUN set -eu; \
    python3 -c "import tomllib; print(*tomllib.load(open('/deps/pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
      > /deps/requirements.txt; \
    python3 -m venv /opt/venv; \
    if ls /deps/*.whl >/dev/null 2>&1; then source="--no-index --find-links /deps"; else source=""; fi; \
    /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check $source -r /deps/requirements.txt; \
    /opt/venv/bin/pip check

# -- the image: the venv, the grader, its data folders; no wheels, no build tools ----------------
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
RUN useradd --uid 1000 --user-group --create-home --home-dir /home/grader --shell /usr/sbin/nologin grader \
 && mkdir -p /out && chown grader:grader /out
COPY --from=deps /opt/venv /opt/venv
COPY tasks /opt/grader/tasks
COPY rubrics /opt/grader/rubrics
COPY sandbox /opt/grader/sandbox
# The grader: its wheel from dist/ when the context has one, else built from source (from PyPI).
COPY pyproject.toml README.md dis[t] /tmp/grader-src/
COPY grader /tmp/grader-src/grader
RUN set -eu; \
    if ls /tmp/grader-src/grader-*.whl >/dev/null 2>&1; then \
      /opt/venv/bin/pip install --no-index --no-deps --no-cache-dir --disable-pip-version-check /tmp/grader-src/grader-*.whl; \
    else \
      /opt/venv/bin/pip install --no-deps --no-cache-dir --disable-pip-version-check /tmp/grader-src; \
    fi; \
    /opt/venv/bin/pip check; \
    /opt/venv/bin/grader --version; \
    ln -s "$(/opt/venv/bin/python -c 'from grader.cli.schema import SCHEMAS; print(SCHEMAS)')" /opt/grader/schemas; \
    rm -rf /tmp/grader-src /root/.cache /tmp/* /var/tmp/*
ARG IMAGE_HASH=unknown
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    MPLCONFIGDIR=/tmp/matplotlib \
    GRADER_TASKS_DIR=/opt/grader/tasks \
    GRADER_RUBRICS_DIR=/opt/grader/rubrics \
    GRADER_SANDBOX_DIR=/opt/grader/sandbox
LABEL grader.image="1" \
      grader.image-hash="${IMAGE_HASH}" \
      grader.base-image="${BASE_IMAGE}"
USER grader
# The mounted output folder is the working directory: relative paths and the default MLflow store
# (sqlite:///mlflow.db) land there, not in the container.
WORKDIR /out
ENTRYPOINT ["grader"]
CMD ["--help"]
