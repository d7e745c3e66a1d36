# Shared by scripts/run.sh and scripts/test.sh: installs what toolstream needs on a
# fresh Debian machine, skipping whatever is already there. Source it; do not run it.
# Nothing is downloaded from GitHub: every tool comes from crates.io, npm, PyPI or apt.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
CARGO_LEPTOS_VERSION="0.3.10"
BINARYEN_VERSION="132.0.0"
export PATH="$TOOLS/node_modules/.bin:$HOME/.cargo/bin:$PATH"
# Keep cargo-leptos from trying to download anything: the tools are on PATH.
export LEPTOS_WASM_OPT_VERSION="version_132"

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

# cargo-leptos's own release profile has `lto = true, codegen-units = 1`; a build tool
# does not need that, and without it the install took 17 min here instead of 19-27.
# Only for these tools' `cargo install`; the project's own profiles are untouched.
install_tool() {
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install "$@"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The wasm-bindgen crate version pinned in Cargo.lock: the CLI must match it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

install_build_tools() {
  step "Build tools (wasm target, cargo-leptos, wasm-bindgen, wasm-opt)"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -qx "cargo-leptos $CARGO_LEPTOS_VERSION"; then
    install_tool --locked cargo-leptos --version "$CARGO_LEPTOS_VERSION"
  fi
  local wb
  wb="$(wasm_bindgen_version)"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb\b"; then
    # Without --locked: its lock file pins a crate this registry no longer serves.
    install_tool wasm-bindgen-cli --version "$wb"
  fi
  # wasm-opt from npm's binaryen: Debian's binaryen 108 silently breaks hydration.
  if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    npm install --prefix "$TOOLS" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  fi
  echo "rust wasm target, $(cargo leptos --version), $(wasm-bindgen --version), $(wasm-opt --version)"
}

install_test_tools() {
  step "Test tools (Chromium, Playwright, Python MCP SDK, deployment validators)"
  if ! [ -x /usr/bin/chromium ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  fi
  if ! [ -d "$ROOT/end2end/node_modules/@playwright/test" ]; then
    # Playwright drives Debian's Chromium; it never downloads a browser of its own.
    (cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
  fi
  install_python_tools
  echo "$(/usr/bin/chromium --version 2>/dev/null), playwright $(cd "$ROOT/end2end" && npx playwright --version)"
}

# The Python packages of scripts/requirements-test.txt (MCP SDK, deployment validators)
# in .tools/venv. Reinstalls whenever that file changes: a venv made by an older
# version of the file gets the packages added since.
install_python_tools() {
  local venv="$TOOLS/venv" stamp want
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$ROOT/scripts/requirements-test.txt" | cut -d' ' -f1)"
  if ! [ -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-test.txt"
    echo "$want" > "$stamp"
  fi
}

# The MCP servers the server's tests run against (server/tests/api/mcp_servers.rs):
# the reference "everything" server from npm, in .tools/mcp-everything. The tests
# run it with Node directly, over stdio and over Streamable HTTP on loopback.
MCP_EVERYTHING_VERSION="2026.8.31"
install_mcp_test_servers() {
  step "MCP test servers (@modelcontextprotocol/server-everything $MCP_EVERYTHING_VERSION)"
  local dir="$TOOLS/mcp-everything"
  local manifest="$dir/node_modules/@modelcontextprotocol/server-everything/package.json"
  if ! grep -qs "\"version\": \"$MCP_EVERYTHING_VERSION\"" "$manifest"; then
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent \
      "@modelcontextprotocol/server-everything@$MCP_EVERYTHING_VERSION"
  fi
  echo "server-everything $(grep -o '"version": "[^"]*"' "$manifest")"
}
