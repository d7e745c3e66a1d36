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

step "Site (front end split) and server (release): cargo xtask site --split"
# The release server binary and target/site, as the run command builds them; the
# steps below test these very files.
cargo xtask site --split --lib-features split

step "Rust tests (protocol, toolbox, server, app, xtask), release build"
# Release, sharing the server build above: the same crates with the same features
# (xtask's test the_test_build_compiles_the_servers_crates_with_the_same_features).
cargo test --release

step "Soak: 2,000 sessions in their grace period, 200 clients flooding for 30 s"
# Alone, so that it disturbs no timing of the other tests.
cargo test --release -p server --test api -- --ignored soak --nocapture

step "Bundle budget"
./scripts/bundle-size.sh

step "The site against cargo-leptos's (skipped when cargo-leptos is not installed)"
cargo xtask compare-cargo-leptos --split --lib-features split

step "Deployment files (offline validation)"
./scripts/validate-deploy.sh

step "Official Python MCP SDK client (2025-11-25 sessions) against the toolbox"
"$TOOLS/venv/bin/python" toolbox/tests/python/legacy_sdk_client.py ./target/release/toolbox

step "Browser tests (Playwright, headless Chromium)"
(cd end2end && npx playwright test)

step "All tests passed"
