# syntax=docker/dockerfile:1
# One image for every Berth process: the engine, the control plane, the CSI driver
# (controller and node) and the CLI. Node 24 runs the TypeScript sources directly (type
# stripping), so there is no build step; the image's Node is the runtime, not the `node`
# devDependency the repository uses for development.
#
#   docker build -t berth:dev .
#   docker run --rm berth:dev node src/engine/main.ts --data-dir /tmp/d --api-listen 0.0.0.0:9500
#
# Without a Docker daemon or a registry, scripts/build-image.sh builds the same image from
# Debian's packages (mmdebstrap) for `ctr images import`. Keep the two in step: the
# package list, app paths, ENV, ENTRYPOINT and CMD are compared by
# test/deploy/image_build.test.ts.

ARG NODE_IMAGE=node:24-bookworm-slim

# --- dependencies: production packages only, resolved exactly from the lockfile
FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/berth
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# --- runtime
FROM ${NODE_IMAGE} AS runtime
# Host tools the processes drive:
#   open-iscsi            iscsiadm, the node plugin's kernel-initiator attacher (the host's iscsid does the work)
#   e2fsprogs, xfsprogs   mkfs, resize2fs, xfs_growfs (NodeStage, NodeExpand)
#   util-linux, mount     blkid, blockdev, losetup, mount, findmnt
#   qemu-utils, qemu-system-common, qemu-block-extra
#                         qemu-storage-daemon with libiscsi: the user-space attacher for
#                         kernels without an iSCSI initiator (--attacher userspace)
#   fuse3                 its FUSE export
#   kmod                  modprobe iscsi_tcp / loop / fuse from the host's /lib/modules
#   tini                  reaps the daemons those tools leave behind (PID 1 or subreaper)
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      open-iscsi e2fsprogs xfsprogs util-linux mount \
      qemu-utils qemu-system-common qemu-block-extra fuse3 kmod tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/berth
ENV NODE_ENV=production \
    NODE_OPTIONS=--disable-warning=ExperimentalWarning
COPY --from=deps /opt/berth/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY proto ./proto
COPY src ./src
# `berth bench` (the CLI) uses the fio profiles and parsers under bench/.
COPY bench ./bench
# bin/berth looks for the development Node under node_modules; in the image the CLI
# runs on the image's Node.
RUN printf '#!/bin/sh\nexec node /opt/berth/src/cli/main.ts "$@"\n' > /usr/local/bin/berth \
 && chmod 0755 /usr/local/bin/berth \
 && node -e "import('/opt/berth/src/engine/engine_args.ts').then(() => console.log('berth sources load'))"

# -s: the Deployment/DaemonSets run this as `command`, where tini may not be PID 1.
ENTRYPOINT ["/usr/bin/tini", "-s", "--"]
CMD ["node", "src/main.ts"]
