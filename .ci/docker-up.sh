#!/usr/bin/env bash
# Make a Docker engine reachable: reuse one if DOCKER_HOST (or the default socket) answers,
# otherwise install docker.io from Debian and start dockerd in the background.
# Prints the DOCKER_HOST to use on its last line.
set -euo pipefail
data_root=${GRADER_DOCKER_ROOT:-/var/lib/grader-docker}
sock=${GRADER_DOCKER_SOCK:-/run/grader-docker.sock}

if docker info >/dev/null 2>&1; then
  echo "${DOCKER_HOST:-unix:///var/run/docker.sock}"; exit 0
fi
if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
  echo "unix://$sock"; exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-up: installing docker.io from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >&2
fi
mkdir -p "$data_root"
echo "docker-up: starting dockerd (data root $data_root, socket $sock)" >&2
nohup dockerd --storage-driver=overlay2 --iptables=false --bridge=none \
  --data-root "$data_root" --exec-root /run/grader-docker-exec \
  --pidfile /run/grader-dockerd.pid -H "unix://$sock" >/var/log/grader-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
    echo "unix://$sock"; exit 0
  fi
  sleep 1
done
echo "docker-up: dockerd did not come up; last log lines:" >&2
tail -n 30 /var/log/grader-dockerd.log >&2
exit 1
