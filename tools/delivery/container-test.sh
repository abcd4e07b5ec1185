#!/usr/bin/env bash
# Build the serving image and test it end to end (tests/delivery/test_container.py).
#   BASE_IMAGE=python:3.11-slim-bookworm  use that base (where a registry is reachable);
#   unset: build a local base from Debian packages (tools/delivery/base-image.sh), and a
#   stand-in for the official Envoy image (tools/delivery/envoy-image.sh) for the compose test.
# Starts dockerd if none answers and stops it again; removes every container the tests made.
# Idempotent: a base image already imported and the build cache are reused.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=${PY:-.venv/bin/python}
IMAGE=${IMAGE:-diabetes-serving:dev}
here=tools/delivery

cleanup() {
  status=$?
  if timeout 10 docker info >/dev/null 2>&1; then
    # The compose tests' projects (both profiles), should the run have been interrupted.
    for project in diabetes-serving-test diabetes-serving-test-production; do
      .venv/bin/docker-compose -p "$project" -f docker-compose.yml --profile production \
        down --volumes --remove-orphans --timeout 10 >/dev/null 2>&1 || true
    done
    leftovers=$(docker ps --all --quiet --filter label=diabetes-serving.test=1)
    if [ -n "$leftovers" ]; then
      echo "removing test containers: $leftovers"
      # shellcheck disable=SC2086
      docker rm --force --volumes $leftovers >/dev/null || true
    fi
    # Untagged images of earlier builds (the build stage, replaced tags); tagged ones stay.
    docker image prune --force --filter label=diabetes-serving.stage=build >/dev/null || true
    docker image prune --force --filter label=org.opencontainers.image.title=diabetes-serving \
      >/dev/null || true
  fi
  bash "$here/dockerd.sh" stop || true
  exit "$status"
}
trap cleanup EXIT

# Debian's Docker engine, unless an engine is installed already (CI runners ship their own).
if ! command -v dockerd >/dev/null && ! timeout 10 docker info >/dev/null 2>&1; then
  bash tools/system-deps.sh docker.io
fi
bash "$here/dockerd.sh" start

base=${BASE_IMAGE:-}
if [ -z "$base" ]; then
  bash tools/system-deps.sh debootstrap
  base=$(timeout 600 bash "$here/base-image.sh")
  ENVOY_IMAGE=$(timeout 300 bash "$here/envoy-image.sh" "$base")
  export ENVOY_IMAGE
fi

echo "building $IMAGE on $base"
timeout 900 make --no-print-directory image IMAGE="$IMAGE" BASE_IMAGE="$base"
docker image ls "$IMAGE"

DIABETES_IMAGE="$IMAGE" timeout 600 "$PY" -m pytest -p no:cacheprovider -m container tests/delivery/test_container.py
