#!/usr/bin/env bash
# Builds the bench image (deploy/bench/Dockerfile's packages: fio, PostgreSQL) without a
# Docker daemon or a registry: a Debian root filesystem from Debian's packages
# (mmdebstrap), written by scripts/image-archive.sh as a docker-archive that
# `ctr -n k8s.io images import` (and `docker load`) accepts. Runs as root.
#
#   deploy/bench/build-image.sh [--tag REF] [--out FILE] [--import]
#
# The root filesystem is cached under $BERTH_IMAGE_CACHE, keyed by the package list and
# the mirror ($BERTH_DEBIAN_MIRROR, $BERTH_DEBIAN_SECURITY).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${BERTH_IMAGE_CACHE:-/var/tmp/berth-image-cache}
SUITE=bookworm
TAG=berth-bench:dev
OUT=
IMPORT=0
# The same list as deploy/bench/Dockerfile's apt-get install.
PACKAGES=(fio postgresql util-linux)

usage() { echo "usage: $0 [--tag REF] [--out FILE] [--import]" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --tag) TAG=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --import) IMPORT=1; shift ;;
    *) usage ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "build-image.sh: run as root (mmdebstrap builds the root filesystem as root)" >&2; exit 1; }
OUT=${OUT:-$CACHE/berth-bench-image.tar}
MAIN=${BERTH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${BERTH_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
SOURCES=("deb $MAIN $SUITE main" "deb $MAIN $SUITE-updates main" "deb $SECURITY $SUITE-security main")
mkdir -p "$CACHE"

key=$(printf '%s\n' bench-v1 "${SOURCES[@]}" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
ROOTFS=$CACHE/bench-rootfs-$key.tar
if [[ ! -s $ROOTFS ]]; then
  echo "building the bench root filesystem ($SUITE: ${PACKAGES[*]}) into $ROOTFS"
  # No cluster in the image: each Job runs initdb in its own directory.
  mmdebstrap --variant=minbase --mode=root --format=tar --quiet \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/lib/postgresql/*/main "$1"/etc/postgresql/*/main' \
    --customize-hook='for t in /usr/bin/fio /usr/sbin/runuser; do [ -x "$1$t" ] || { echo "no $t" >&2; exit 1; }; done; ls "$1"/usr/lib/postgresql/*/bin/pgbench' \
    $SUITE "$ROOTFS.part" "${SOURCES[@]}"
  mv "$ROOTFS.part" "$ROOTFS"
else
  echo "bench root filesystem from cache: $ROOTFS"
fi
mkdir -p "$(dirname "$OUT")"
"$REPO/scripts/image-archive.sh" "$OUT" "$TAG" '{"Cmd":["/bin/sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}' "$ROOTFS"
if (( IMPORT )); then ctr -n k8s.io images import "$OUT"; fi
