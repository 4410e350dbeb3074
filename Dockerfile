# The grader itself, as an image that grades through the host's Docker socket:
#   docker build -t grader .
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock -v "$PWD/out:/out" \
#     grader grade /opt/grader/tasks/tabular/credit-default/examples/reference --out /out
# Files move into sandboxes as tar streams through the API, so no host path is ever bind-mounted
# into a sandbox. Offline, build on the debootstrap base: --build-arg BASE_IMAGE=grader-base:bookworm
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
WORKDIR /opt/grader
COPY pyproject.toml README.md ./
COPY grader ./grader
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .
COPY tasks ./tasks
COPY rubrics ./rubrics
COPY sandbox ./sandbox
COPY schemas ./schemas
ENV PATH=/opt/venv/bin:$PATH \
    GRADER_TASKS_DIR=/opt/grader/tasks \
    GRADER_RUBRICS_DIR=/opt/grader/rubrics \
    GRADER_SANDBOX_DIR=/opt/grader/sandbox
ENTRYPOINT ["grader"]
CMD ["--help"]
