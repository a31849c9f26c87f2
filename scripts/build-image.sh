#!/usr/bin/env bash
# Builds Berth's image without a Docker daemon or an image registry: a Debian root
# filesystem from Debian's packages (mmdebstrap), Node 24 from the npm `node` package the
# repository already holds, and the app with its production node_modules, written as a
# docker-archive that `ctr -n k8s.io images import` (and `docker load`) accepts.
# The Dockerfile stays the users' way; this gives the same layout, and
# test/deploy/image_build.test.ts checks that both install the same packages and copy
# the same paths, with the same entry point.
#
#   scripts/build-image.sh [--tag REF] [--out FILE] [--import]
#
# Two layers: the root filesystem (cached under $BERTH_IMAGE_CACHE, keyed by the package
# list and the mirror, so re-runs only redo the app layer) and the app. Runs as root.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${BERTH_IMAGE_CACHE:-/var/tmp/berth-image-cache}
SUITE=bookworm
TAG=berth:dev
OUT=
IMPORT=0

# The same list as the Dockerfile's apt-get install (the test compares them).
PACKAGES=(
  open-iscsi e2fsprogs xfsprogs util-linux mount
  qemu-utils qemu-system-common qemu-block-extra fuse3 kmod tini ca-certificates
)
# What the Dockerfile copies into WORKDIR, besides node_modules.
APP_PATHS=(package.json package-lock.json proto src bench)
WORKDIR=/opt/berth
ENTRYPOINT='["/usr/bin/tini","-s","--"]'
CMD='["node","src/main.ts"]'
ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","NODE_ENV=production","NODE_OPTIONS=--disable-warning=ExperimentalWarning"]'

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
OUT=${OUT:-$CACHE/berth-image.tar}
NODE_BIN=$REPO/node_modules/node/bin/node
[[ -x $NODE_BIN ]] || { echo "build-image.sh: $NODE_BIN is missing; run npm install" >&2; exit 1; }
export PATH=$REPO/node_modules/.bin:$PATH
mkdir -p "$CACHE"

# The Debian mirror this machine already uses (only Debian's archive may be reachable).
mirror_of() { # deb822 or one-line sources mentioning SUITE
  local want=$1 f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk -v want="$want" '
      /^URIs:/ { u=$2 } /^Suites:/ { for (i=2;i<=NF;i++) if ($i==want) print u }
      /^deb / { for (i=2;i<=NF;i++) if ($i ~ /^https?:/) { uu=$i; if ($(i+1)==want) print uu } }' "$f" | head -1)
    [[ -n $uri ]] && { echo "$uri"; return; }
  done
}
MAIN=${BERTH_DEBIAN_MIRROR:-$(mirror_of $SUITE)}
SECURITY=${BERTH_DEBIAN_SECURITY:-$(mirror_of $SUITE-security)}
MAIN=${MAIN:-http://deb.debian.org/debian}; SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
SOURCES=("deb $MAIN $SUITE main" "deb $MAIN $SUITE-updates main" "deb $SECURITY $SUITE-security main")

# ---- layer 1: the root filesystem (like node:24-bookworm-slim: minbase, no docs). The
# directory stays in the cache for the tool checks below; its tar is the layer.
key=$(printf '%s\n' v1 "${SOURCES[@]}" "${PACKAGES[@]}" | sha256sum | cut -c1-16)
ROOTDIR=$CACHE/rootfs-$key
ROOTFS=$ROOTDIR.tar
if [[ ! -d $ROOTDIR ]]; then
  echo "building the root filesystem ($SUITE, ${#PACKAGES[@]} packages) into $ROOTDIR"
  rm -rf "$ROOTDIR.part"
  mmdebstrap --variant=minbase --mode=root --format=directory --quiet \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    $SUITE "$ROOTDIR.part" "${SOURCES[@]}"
  mv "$ROOTDIR.part" "$ROOTDIR"
  rm -f "$ROOTFS" "$ROOTFS.sha256"
else
  echo "root filesystem from cache: $ROOTDIR"
fi
# The host tools the processes run (the Dockerfile's comment says which needs what).
for tool in /usr/bin/tini /usr/bin/qemu-storage-daemon /usr/bin/iscsiadm /usr/sbin/mkfs.ext4 /usr/sbin/mkfs.xfs \
  /usr/sbin/xfs_growfs /usr/sbin/resize2fs /usr/sbin/losetup /usr/sbin/blockdev /usr/bin/findmnt /usr/sbin/blkid /usr/bin/fusermount3; do
  [[ -x $ROOTDIR$tool || -L $ROOTDIR$tool ]] || { echo "build-image.sh: the root filesystem lacks $tool" >&2; exit 1; }
done
if [[ ! -s $ROOTFS.sha256 ]]; then
  (cd "$ROOTDIR" && tar --numeric-owner --xattrs --sort=name -cf "$ROOTFS.part" $(ls -A))
  mv "$ROOTFS.part" "$ROOTFS"
  sha256sum "$ROOTFS" | cut -d' ' -f1 > "$ROOTFS.sha256"
fi

# ---- layer 2: Node 24, the app and its production dependencies
WORK=$(mktemp -d "$CACHE/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage
APP=$STAGE${WORKDIR}
mkdir -p "$STAGE/usr/local/bin" "$APP/node_modules"
cp "$NODE_BIN" "$STAGE/usr/local/bin/node"
# bin/berth looks for the development Node under node_modules; in the image the CLI runs on the image's Node.
printf '#!/bin/sh\nexec node /opt/berth/src/cli/main.ts "$@"\n' > "$STAGE/usr/local/bin/berth"
chmod 0755 "$STAGE/usr/local/bin/berth" "$STAGE/usr/local/bin/node"
for p in "${APP_PATHS[@]}"; do cp -a "$REPO/$p" "$APP/"; done
find "$APP/src" "$APP/bench" -name '*.test.ts' -delete
# The production dependency tree exactly as the lockfile installed it (what `npm ci --omit=dev` gives), offline.
(cd "$REPO" && npm ls --omit=dev --all --parseable 2>/dev/null || true) | while read -r dir; do
  [[ $dir == "$REPO/node_modules/"* ]] || continue
  rel=${dir#"$REPO/"}
  mkdir -p "$APP/$(dirname "$rel")"
  [[ -e $APP/$rel ]] || cp -a "$dir" "$APP/$rel"
done
[[ -e $APP/node_modules/node ]] && { echo "build-image.sh: the development node package leaked into the image" >&2; exit 1; }
# The same smoke check as the Dockerfile's last RUN, with the image's Node and files, and
# every entry point loads its whole import graph (--help exits before doing anything).
(cd "$APP" && "$STAGE/usr/local/bin/node" --disable-warning=ExperimentalWarning \
  -e "import('$APP/src/engine/engine_args.ts').then(() => console.log('berth sources load'))")
for entry in src/engine/main.ts src/control/main.ts src/csi/main.ts src/cli/main.ts; do
  (cd "$APP" && "$STAGE/usr/local/bin/node" --disable-warning=ExperimentalWarning "$entry" --help >/dev/null) \
    || { echo "build-image.sh: $entry does not load from the image's files" >&2; exit 1; }
done
chown -R 0:0 "$STAGE"
APPTAR=$WORK/app.tar
(cd "$STAGE" && tar --numeric-owner --sort=name --mtime=@0 -cf "$APPTAR" opt usr)

# ---- the docker-archive
mkdir -p "$(dirname "$OUT")"
"$REPO/scripts/image-archive.sh" "$OUT" "$TAG" \
  "$(printf '{"Entrypoint":%s,"Cmd":%s,"Env":%s,"WorkingDir":"%s"}' "$ENTRYPOINT" "$CMD" "$ENV" "$WORKDIR")" "$ROOTFS" "$APPTAR"
if (( IMPORT )); then ctr -n k8s.io images import "$OUT"; fi
