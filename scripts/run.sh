#!/usr/bin/env bash
# Builds and runs the whole system on this machine: the UI, /ws, and the MCP toolbox
# embedded at /mcp. No cloud account needed (the default LLM is the local planner).
# Open http://localhost:${PORT:-8000}. Settings: see `./target/release/server --help`.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

install_build_tools
step "Building the site and the server (release): cargo xtask site --split"
cargo xtask site --split --lib-features split
step "Starting on http://localhost:${PORT:-8000}"
export LEPTOS_SITE_ROOT="${LEPTOS_SITE_ROOT:-target/site}"
exec ./target/release/server "$@"
