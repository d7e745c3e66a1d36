# Shared by the scripts (run.sh, test.sh, dev.sh, bench.sh, validate-deploy.sh):
# installs what toolstream needs on a fresh Debian machine, skipping whatever is
# already there. Source it; do not run it. Nothing is downloaded from GitHub: every
# tool comes from crates.io, npm, PyPI or apt.
#
# Add a new tool to the function of the command that needs it: install_build_tools
# (building the site and the server), install_test_tools (the test command), or
# install_cargo_leptos (the developers' watch loop). Each check must be cheap and
# each install must skip what is present, so that a second run starts at once.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export PATH="$TOOLS/node_modules/.bin:$HOME/.cargo/bin:$PATH"

step() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

# Build tools are installed with a lean release profile: a tool we only run a few
# times a day does not need LTO, and without it cargo-leptos took 17 min here instead
# of 19-27. Only for these tools' `cargo install`; the project's profiles are untouched.
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

# A version from [workspace.metadata.site-tools] in Cargo.toml (the one place they
# are pinned; xtask and scripts/deploy_check.py read the same table).
site_tool_version() {
  awk -v key="$1" '
    /^\[/ { in_table = ($0 == "[workspace.metadata.site-tools]"); next }
    in_table && $1 == key { gsub(/"/, "", $3); print $3; exit }
  ' "$ROOT/Cargo.toml"
}

# The version of npm package $1 installed in .tools, or nothing.
npm_tool_version() {
  local manifest="$TOOLS/node_modules/$1/package.json"
  [ -f "$manifest" ] && node -p "require('$manifest').version" 2>/dev/null
}

# What `cargo xtask site` runs: the wasm32 target, wasm-bindgen-cli matching
# Cargo.lock, and from npm wasm-opt (binaryen), terser and lightningcss.
install_build_tools() {
  step "Build tools (wasm target, wasm-bindgen, wasm-opt, terser, lightningcss)"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
  fi
  local wb
  wb="$(wasm_bindgen_version)"
  if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb\b"; then
    # Without --locked: its lock file pins a crate this registry no longer serves.
    install_tool wasm-bindgen-cli --version "$wb"
  fi
  # wasm-opt from npm's binaryen: Debian's binaryen 108 silently breaks hydration.
  local package version wanted=()
  for package in binaryen terser lightningcss-cli; do
    version="$(site_tool_version "$package")"
    if [ "$(npm_tool_version "$package")" != "$version" ]; then
      wanted+=("$package@$version")
    fi
  done
  if [ "${#wanted[@]}" -gt 0 ]; then
    npm install --prefix "$TOOLS" --save-exact --no-audit --no-fund --silent "${wanted[@]}"
  fi
  echo "rust wasm target, $(wasm-bindgen --version), $(wasm-opt --version)," \
    "terser $(npm_tool_version terser), lightningcss-cli $(npm_tool_version lightningcss-cli)"
}

# cargo-leptos, for `cargo leptos watch` (scripts/dev.sh). Compiling it takes 10-17
# minutes on 2 cores; the run and test commands never need it.
install_cargo_leptos() {
  local version
  version="$(site_tool_version cargo-leptos)"
  if ! cargo leptos --version 2>/dev/null | grep -qx "cargo-leptos $version"; then
    step "cargo-leptos $version (first use only: 10-17 minutes on 2 cores)"
    install_tool --locked cargo-leptos --version "$version"
  fi
  # cargo-leptos downloads wasm-opt from GitHub unless told the version on PATH.
  export LEPTOS_WASM_OPT_VERSION="version_$(site_tool_version binaryen | cut -d. -f1)"
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
