#!/usr/bin/env bash
# Runs every test of toolstream, installing whatever is missing first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

install_build_tools
install_test_tools
install_mcp_test_servers

step "Formatting"
cargo fmt --all -- --check

step "Rust tests (protocol, toolbox, server, app), release build"
# Release, so the same build serves the browser tests below.
cargo test --release --workspace --exclude frontend

step "Soak: 2,000 sessions in their grace period, 200 clients flooding for 30 s"
# Alone, so that it disturbs no timing of the other tests.
cargo test --release -p server --test api -- --ignored soak --nocapture

step "Frontend (WASM) build and bundle budget"
cargo leptos build --release --precompress --frontend-only --split --lib-features split
./scripts/bundle-size.sh

step "Deployment files (offline validation)"
./scripts/validate-deploy.sh

step "Official Python MCP SDK client (2025-11-25 sessions) against the toolbox"
"$TOOLS/venv/bin/python" toolbox/tests/python/legacy_sdk_client.py ./target/release/toolbox

step "Browser tests (Playwright, headless Chromium)"
(cd end2end && npx playwright test)

step "All tests passed"
