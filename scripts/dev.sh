#!/usr/bin/env bash
# The developers' loop: `cargo leptos watch` rebuilds the server and the WASM on every
# change and reloads the page (http://127.0.0.1:8000). Installs cargo-leptos on first
# use (10-17 minutes on 2 cores); the run and test commands never need it.
# Arguments go to `cargo leptos watch` (e.g. `--release`, `--hot-reload`).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

install_build_tools
install_cargo_leptos
step "cargo leptos watch"
exec cargo leptos watch "$@"
