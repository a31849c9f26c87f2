#!/usr/bin/env bash
# Builds fio with the libiscsi engine from Debian's own fio source package into
# .build/fio/fio (git-ignored). Skips when that binary exists and lists libiscsi.
#   --check   exit 0 if the built fio is usable, 1 otherwise; build nothing
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out_dir="$repo/.build/fio"
src_dir="$repo/.build/fio-src"
fio_bin="$out_dir/fio"

# fio 3.33's libiscsi engine sends SYNCHRONIZE CACHE(16) with the LUN's size in bytes
# as its block count: out of range, so a conforming target (Berth) answers CHECK
# CONDITION and flushes nothing, and fio ignores the failed sync. The build patches it
# to 0 blocks ("to the end of the LUN"); the marker tells a patched binary from an old one.
patched_marker="$out_dir/.sync-cache-blocks-fixed"

fio_ready() {
  [[ -x "$fio_bin" && -e "$patched_marker" ]] && "$fio_bin" --enghelp 2>/dev/null | grep -qw libiscsi
}

if fio_ready; then
  [[ "${1:-}" == "--check" ]] || echo "build-fio: $fio_bin already has libiscsi"
  exit 0
fi
[[ "${1:-}" == "--check" ]] && exit 1

# shellcheck source=scripts/deb_src.sh
source "$here/deb_src.sh"
if ! deb_src_present; then
  deb_src_enable
  apt-get update -qq
  export BERTH_APT_UPDATED=1
fi

rm -rf "$src_dir"
mkdir -p "$src_dir" "$out_dir"
cd "$src_dir"
if ! apt-get source -qq fio >/dev/null 2>"$src_dir/apt-source.err"; then
  # The deb-src index may be older than the file that enabled it.
  if [[ -z "${BERTH_APT_UPDATED:-}" ]]; then
    apt-get update -qq
    apt-get source -qq fio >/dev/null
  else
    cat "$src_dir/apt-source.err" >&2
    exit 1
  fi
fi

tree="$(find "$src_dir" -maxdepth 1 -mindepth 1 -type d -name 'fio-*' | head -n1)"
[[ -n "$tree" ]] || { echo "build-fio: apt-get source produced no fio-* tree" >&2; exit 1; }
cd "$tree"
sed -i 's/iscsi_lun->num_blocks \* iscsi_lun->block_size, 0, 0)/0, 0, 0)/' engines/libiscsi.c
grep -A1 'scsi_cdb_synchronizecache16(' engines/libiscsi.c | grep -q '^[[:space:]]*0, 0, 0, 0);' || {
  echo "build-fio: could not patch the SYNCHRONIZE CACHE block count in engines/libiscsi.c" >&2; exit 1; }
./configure --enable-libiscsi >"$src_dir/configure.log" 2>&1 || { tail -n 30 "$src_dir/configure.log" >&2; exit 1; }
grep -Eq '^(lib)?iscsi engine[[:space:]]+yes' "$src_dir/configure.log" || {
  echo "build-fio: configure did not enable libiscsi (is libiscsi-dev installed?)" >&2
  grep -i iscsi "$src_dir/configure.log" >&2 || true
  exit 1
}
make -j2 >"$src_dir/make.log" 2>&1 || { tail -n 30 "$src_dir/make.log" >&2; exit 1; }
install -m 755 fio "$fio_bin"
touch "$patched_marker"

fio_ready || { echo "build-fio: built fio does not list the libiscsi engine" >&2; exit 1; }
echo "build-fio: built $fio_bin ($("$fio_bin" --version))"
