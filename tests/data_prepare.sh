#!/usr/bin/env bash
# data_prepare.sh — datasets/prepare regenerates the shipped corpora byte for byte from
# Debian's bibledit-data package. Skips (77) when the package cannot be downloaded.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
if ! (cd "$TMP" && apt-get download bibledit-data >/dev/null 2>&1); then
    echo "SKIP: apt-get download bibledit-data failed (no package index or no network)"; exit 77
fi
python3 "$ROOT/datasets/prepare" --deb "$TMP"/bibledit-data_*.deb --out "$TMP/out" || exit 1
status=0
while read -r _ file; do
    if cmp -s "$ROOT/datasets/$file" "$TMP/out/$file"; then echo "same  $file"
    else echo "DIFF  $file"; status=1; fi
done <"$ROOT/datasets/SHA256SUMS"
exit $status
