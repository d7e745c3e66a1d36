#!/usr/bin/env bash
# Reports the size of the browser bundle (WASM + JS, as served gzip-compressed) and
# fails when it is over the budget. Run after `cargo xtask site`.
set -euo pipefail
cd "$(dirname "$0")/.."
budget_kb="${BUNDLE_BUDGET_KB:-250}"
pkg="${SITE_ROOT:-target/site}/pkg"
total=0
printf '%-28s %10s %10s\n' file bytes gzip
for file in "$pkg"/toolstream.wasm "$pkg"/toolstream.js "$pkg"/toolstream.css; do
  [ -f "$file" ] || { echo "missing $file: build the site first" >&2; exit 1; }
  raw=$(stat -c %s "$file")
  zipped=$(gzip -9 -c "$file" | wc -c)
  printf '%-28s %10d %10d\n' "$(basename "$file")" "$raw" "$zipped"
  case "$file" in *.wasm|*.js) total=$((total + zipped)) ;; esac
done
awk -v t="$total" -v b="$budget_kb" 'BEGIN { printf "WASM + JS gzip: %d bytes (%.1f KB); budget %d KB\n", t, t / 1000, b }'
if [ "$total" -gt $((budget_kb * 1000)) ]; then
  echo "over the bundle budget" >&2
  exit 1
fi
