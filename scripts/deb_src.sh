# Sourced by install-deps.sh and build-fio.sh: source-package entries for the same
# archive the machine already installs binaries from.

deb_src_file=/etc/apt/sources.list.d/berth-deb-src.sources

# True when any apt source already offers source packages.
deb_src_present() {
  grep -rqsE '^[[:space:]]*(Types:.*deb-src|deb-src[[:space:]])' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}

# Mirrors the enabled binary entries as deb-src entries in a file of our own, so the
# machine's own source files stay untouched and removing ours undoes the change.
deb_src_enable() {
  local tmp
  tmp="$(mktemp)"
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    # deb822: one stanza per archive; turn "Types: deb" into "Types: deb-src".
    sed -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' \
      /etc/apt/sources.list.d/debian.sources >"$tmp"
    mv "$tmp" "$deb_src_file"
  elif [[ -f /etc/apt/sources.list ]]; then
    grep -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^([[:space:]]*)deb /\1deb-src /' >"$tmp"
    mv "$tmp" "${deb_src_file%.sources}.list"
  else
    rm -f "$tmp"
    echo "deb_src: no Debian apt sources found" >&2
    return 1
  fi
  chmod 644 "$deb_src_file" "${deb_src_file%.sources}.list" 2>/dev/null || true
  echo "deb_src: enabled source packages in $(ls "$deb_src_file" "${deb_src_file%.sources}.list" 2>/dev/null)"
}
