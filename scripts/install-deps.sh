#!/usr/bin/env bash
# Installs the Debian packages Berth's tests and benchmarks use, then builds fio with
# its libiscsi engine (Debian's fio lacks it). Idempotent: when everything is present it
# only checks and returns. Runs as root on Debian 12 (CI and the dev VMs).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=(
  libiscsi-bin tgt qemu-utils qemu-block-extra qemu-system-common fio etcd-server
  iproute2 xfsprogs e2fsprogs socat netcat-openbsd util-linux coreutils
  # the dashboard's browser tests (test/dashboard)
  chromium
  # promtool and a real Prometheus for test/monitoring
  prometheus
  # fio's build
  libiscsi-dev pkg-config zlib1g-dev libaio-dev build-essential dpkg-dev
)

missing=()
for p in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

# shellcheck source=scripts/deb_src.sh
source "$here/deb_src.sh"

need_src=0
"$here/build-fio.sh" --check >/dev/null 2>&1 || need_src=1

added_src=0
if (( need_src )) && ! deb_src_present; then
  deb_src_enable
  added_src=1
fi

if (( ${#missing[@]} > 0 || added_src )); then
  if (( $(id -u) != 0 )); then
    echo "install-deps: missing ${missing[*]:-deb-src}; run as root" >&2
    exit 1
  fi
  echo "install-deps: apt-get update (missing: ${missing[*]:-none}; deb-src added: $added_src)"
  apt-get update -qq
  export BERTH_APT_UPDATED=1
fi

if (( ${#missing[@]} > 0 )); then
  echo "install-deps: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if (( need_src )); then
  "$here/build-fio.sh"
else
  echo "install-deps: all packages present; fio with libiscsi already built"
fi
