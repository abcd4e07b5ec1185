#!/usr/bin/env bash
# Build a local Python base image from Debian packages, for machines that reach no container
# registry. The Dockerfile's default base is the public python image; this stands in for it:
#   docker build --build-arg BASE_IMAGE="$(tools/delivery/base-image.sh)" ...
# Prints the image tag on stdout (progress goes to stderr). Idempotent: an image already
# imported is reused. Needs root, debootstrap and a running Docker daemon.
set -euo pipefail

tag=${BASE_IMAGE_TAG:-diabetes-local/python:3.11-bookworm}
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag already present" >&2
  echo "$tag"
  exit 0
fi

command -v debootstrap >/dev/null || { echo "debootstrap missing (apt-get install debootstrap)" >&2; exit 1; }
rootfs=$(mktemp -d /var/tmp/diabetes-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

echo "debootstrap $suite into $rootfs (about a minute)" >&2
# minbase: essential packages + apt only. python3-venv brings ensurepip (pip for the build
# stage); the serving stage uses the same base, so both have the same interpreter path.
debootstrap --variant=minbase --include=python3,python3-venv "$suite" "$rootfs" "$mirror" >&2

# Drop what an image never needs: package lists, caches, docs and man pages.
rm -rf "${rootfs:?}"/var/lib/apt/lists/* "${rootfs:?}"/var/cache/apt/*.bin "${rootfs:?}"/var/cache/apt/archives/*.deb \
  "${rootfs:?}"/var/log/* "${rootfs:?}"/usr/share/doc/* "${rootfs:?}"/usr/share/man/* "${rootfs:?}"/usr/share/info/* \
  "${rootfs:?}"/tmp/* "${rootfs:?}"/dev/*

echo "importing as $tag" >&2
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "Debian $suite minbase + python3 (debootstrap)" \
  - "$tag" >&2
echo "$tag"
