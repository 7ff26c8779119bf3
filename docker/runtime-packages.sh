#!/usr/bin/env bash
# Prints the Debian packages that hold the shared libraries the given programs load (ldd, then
# dpkg -S), one per line, sorted: the Dockerfile's runtime stage installs exactly these, so the
# runtime package list is derived from the build, never maintained by hand.
set -euo pipefail
(($#)) || { echo "usage: $0 PROGRAM..." >&2; exit 2; }
libs=()
for prog in "$@"; do
  if ldd "$prog" | grep -q 'not found'; then
    echo "runtime-packages: $prog has unresolved libraries:" >&2; ldd "$prog" | grep 'not found' >&2; exit 1
  fi
  mapfile -t -O "${#libs[@]}" libs < <(ldd "$prog" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
done
# Each library under every name dpkg may know it by: Debian 12 is usr-merged (/lib/... or /usr/lib/...),
# and a name like libblas.so.3 may be an alternatives link (then the file behind it, e.g. OpenBLAS, counts).
candidates() { local f; for f in "$1" "$(readlink -f "$1")"; do echo "$f"; echo "${f#/usr}"; echo "/usr${f#/usr}"; done; }
owners=$(for lib in "${libs[@]}"; do candidates "$lib"; done | sort -u | xargs dpkg-query -S 2>/dev/null || true)
for lib in "${libs[@]}"; do
  pkg=""
  while read -r f; do
    pkg=$(awk -v f="$f" '{p=$1; sub(/:$/, "", p); if ($2 == f) {print p; exit}}' <<<"$owners")
    [[ -n $pkg ]] && break
  done < <(candidates "$lib")
  [[ -n $pkg ]] || { echo "runtime-packages: no Debian package owns $lib" >&2; exit 1; }
  echo "${pkg%%:*}"
done | sort -u
