#!/usr/bin/env bash
# Reports the size of the browser bundle (WASM + JS, as served gzip-compressed) and
# fails when what the page loads before the first message is over the budget. Run
# after `cargo xtask site --split --lib-features split`. Split-off WASM modules (loaded
# when first needed, e.g. the markdown renderer when the first answer arrives) are
# listed on their own and do not count against the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
budget_kb="${BUNDLE_BUDGET_KB:-230}"
pkg="${SITE_ROOT:-target/site}/pkg"
total=0
later=0
zipped=0
printf '%-56s %10s %10s\n' file bytes gzip
row() {
  local raw
  raw=$(stat -c %s "$1")
  zipped=$(gzip -9 -c "$1" | wc -c)
  printf '%-56s %10d %10d\n' "$(basename "$1")" "$raw" "$zipped"
}
for file in "$pkg"/toolstream.wasm "$pkg"/toolstream.js "$pkg"/toolstream.css; do
  [ -f "$file" ] || { echo "missing $file: build the site first" >&2; exit 1; }
  row "$file"
  case "$file" in *.wasm|*.js) total=$((total + zipped)) ;; esac
done
# The split loader is imported by the main module at start; the chunks come later.
for file in "$pkg"/__wasm_split*.js; do
  [ -f "$file" ] || continue
  row "$file"
  total=$((total + zipped))
done
for file in "$pkg"/*.wasm; do
  case "$(basename "$file")" in toolstream*.wasm) continue ;; esac
  row "$file"
  later=$((later + zipped))
done
awk -v t="$total" -v l="$later" -v b="$budget_kb" 'BEGIN {
  printf "initial load, WASM + JS gzip: %d bytes (%.1f KB); budget %d KB\n", t, t / 1000, b
  if (l > 0) printf "loaded later (split-off WASM), gzip: %d bytes (%.1f KB)\n", l, l / 1000
}'
if [ "$total" -gt $((budget_kb * 1000)) ]; then
  echo "over the bundle budget" >&2
  exit 1
fi
