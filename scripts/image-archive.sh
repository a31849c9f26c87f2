#!/usr/bin/env bash
# Writes a docker-archive image (what `ctr images import` and `docker load` take) from
# layer tarballs, bottom layer first, without a Docker daemon:
#
#   scripts/image-archive.sh OUT.tar REF CONFIG_JSON LAYER.tar...
#
# CONFIG_JSON is the image config's "config" object ({"Entrypoint":[…],"Cmd":[…],…}).
# A layer's sha256 is read from LAYER.tar.sha256 when that file is newer (a cached
# layer), else computed. Used by build-image.sh and by the lab e2e for sidecar images.
set -euo pipefail
[[ $# -ge 4 ]] || { echo "usage: $0 OUT.tar REF CONFIG_JSON LAYER.tar..." >&2; exit 2; }
out=$1 ref=$2 config=$3; shift 3
work=$(mktemp -d "$(dirname "$out")/.archive.XXXXXX")
trap 'rm -rf "$work"' EXIT
diffs=() layers=()
for layer in "$@"; do
  if [[ -s $layer.sha256 && $layer.sha256 -nt $layer ]]; then d=$(cat "$layer.sha256"); else d=$(sha256sum "$layer" | cut -d' ' -f1); fi
  mkdir -p "$work/$d"
  ln "$layer" "$work/$d/layer.tar" 2>/dev/null || cp "$layer" "$work/$d/layer.tar"
  diffs+=("\"sha256:$d\""); layers+=("\"$d/layer.tar\"")
done
join() { local IFS=,; echo "$*"; }
cfg=$(printf '{"architecture":"amd64","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":[%s]}}' "$config" "$(join "${diffs[@]}")")
cfg_digest=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
printf '%s' "$cfg" > "$work/$cfg_digest.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":[%s]}]' "$cfg_digest" "$ref" "$(join "${layers[@]}")" > "$work/manifest.json"
(cd "$work" && tar -cf "$out.part" manifest.json "$cfg_digest.json" $(ls -d */))
mv "$out.part" "$out"
echo "wrote $out ($ref, $(du -h "$out" | cut -f1), config sha256:$cfg_digest)"
