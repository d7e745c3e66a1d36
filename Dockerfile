# syntax=docker/dockerfile:1
#
# toolstream container images: two targets from one Dockerfile.
#
#   docker build --target server  -t toolstream-server  .   # UI, /ws, /api, the agent (default target)
#   docker build --target toolbox -t toolstream-toolbox .   # the MCP toolbox at /mcp
#
# Two images rather than one holding both binaries: each Deployment pulls only what it
# runs (the toolbox image has no UI files and no agent code), each image has the right
# ENTRYPOINT, EXPOSE and HEALTHCHECK without a command override, and building the
# toolbox never compiles the WASM UI (BuildKit only builds the stages a target needs).
#
# Stages:
#   chef ─┬─ planner (recipe.json: manifests and lock file only)
#         ├─ native:  cook native deps ─ cargo xtask site --server-only, toolbox ──┐
#         └─ site-tools (wasm-bindgen, npm tools): cook wasm deps ─ site ──────────┤
#   runtime (debian slim, non-root) ─┬─ toolbox  ◄── native                        │
#                                    └─ server   ◄── native + site ◄───────────────┘
#
# Both builds run `cargo xtask site` (xtask/), the build step of scripts/run.sh and
# scripts/test.sh: it builds the site and the server as `cargo leptos build --release
# --precompress` does, without compiling cargo-leptos.
#
# Dependency caching (cargo-chef): `cargo chef cook` compiles only the dependencies
# described by recipe.json, so those layers are reused until Cargo.toml/Cargo.lock
# change; editing the sources rebuilds only the workspace crates. Each cook uses
# exactly the packages, profile, target and features of the build that follows it,
# otherwise cargo would not reuse the cooked artifacts.
#
# Configuration is by environment variables only (`server --help`, `toolbox --help`).
# The versions below must match the repository (Cargo.lock, [workspace.metadata.site-tools]
# in Cargo.toml); scripts/validate-deploy.sh checks that they do.

# The toolchain the project is tested with. The builder is the full Debian image
# (buildpack-deps: a C compiler for ring and mimalloc). The runtime uses the same
# Debian release, so the binaries find the glibc they were linked against.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.78
RUN cargo install --locked cargo-chef --version "${CARGO_CHEF_VERSION}"
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- Native binaries: server and toolbox ------------------------------------------
FROM chef AS native
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked -p server -p toolbox --recipe-path recipe.json \
 && cargo chef cook --release --locked -p xtask --recipe-path recipe.json
COPY . .
# The server as cargo-leptos builds it (same cargo invocation and LEPTOS_* variables),
# then the toolbox with the cook's package selection, so it reuses the cooked crates.
RUN cargo xtask site --server-only --locked \
 && cargo build --release --locked -p server -p toolbox

# --- The UI site (WASM, JS, CSS, assets) -------------------------------------------
# The npm tools of the site build: wasm-opt (binaryen; Debian's 108 silently breaks
# hydration), terser and lightningcss. binaryen's npm build is a Node.js script.
FROM node:22-bookworm-slim AS npm-tools
ARG BINARYEN_VERSION=132.0.0
ARG TERSER_VERSION=5.51.4
ARG LIGHTNINGCSS_VERSION=1.32.0
RUN npm install --prefix /opt/site-tools --no-audit --no-fund \
      "binaryen@${BINARYEN_VERSION}" "terser@${TERSER_VERSION}" \
      "lightningcss-cli@${LIGHTNINGCSS_VERSION}"

FROM chef AS site-tools
# Must equal the wasm-bindgen crate in Cargo.lock (pinned "=0.2.130" in Cargo.toml).
ARG WASM_BINDGEN_VERSION=0.2.130
# wasm-bindgen-cli without --locked: its lock file pins a crate the registry mirrors
# used here no longer serve (see scripts/lib.sh).
RUN rustup target add wasm32-unknown-unknown \
 && cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}"
COPY --from=npm-tools /usr/local/bin/node /usr/local/bin/node
# Where xtask looks first (.tools/node_modules/.bin), as scripts/lib.sh installs them.
COPY --from=npm-tools /opt/site-tools/node_modules /app/.tools/node_modules

FROM site-tools AS site
COPY --from=planner /app/recipe.json recipe.json
# What `cargo xtask site --split --lib-features split` compiles for the front end:
# package `frontend` for wasm32 with profile wasm-release, no default features but
# `split`, linked with relocations (the split needs them), in its own target dir.
RUN RUSTFLAGS=-Clink-args=--emit-relocs \
    cargo chef cook --locked -p frontend --target wasm32-unknown-unknown \
      --profile wasm-release --no-default-features --features split \
      --target-dir target/front --recipe-path recipe.json \
 && cargo chef cook --release --locked -p xtask --recipe-path recipe.json
COPY . .
# Writes target/site: pkg/toolstream.{js,wasm,css}, the split-off markdown module and
# its __wasm_split loader (+ .br/.gz), favicon.svg, ...
RUN cargo xtask site --frontend-only --locked --split --lib-features split

# --- Runtime ----------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# A fixed numeric non-root user: Kubernetes' runAsNonRoot can only verify numeric ids.
RUN groupadd --system --gid 10001 toolstream \
 && useradd --system --uid 10001 --gid toolstream --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin toolstream
# CA roots for outbound TLS (AWS Bedrock), copied rather than installed with apt.
COPY --from=native /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
WORKDIR /app
# Container defaults; every one can be overridden at run time. Both binaries and their
# --healthcheck read PORT, so the probe always targets the port being served.
ENV HOST=0.0.0.0 \
    PORT=8000 \
    LOG_FORMAT=json

# --- The MCP toolbox image -------------------------------------------------------------
FROM runtime AS toolbox
COPY --from=native /app/target/release/toolbox /usr/local/bin/toolbox
USER 10001:10001
EXPOSE 8000
# `--healthcheck` asks /healthz on PORT over loopback: no curl in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/toolbox", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/toolbox"]

# --- The agent server image (last stage: the default target) ---------------------------
FROM runtime AS server
COPY --from=native /app/target/release/server /usr/local/bin/server
COPY --from=site /app/target/site /app/site
# The conversation store by default: DATABASE_URL=sqlite://data/toolstream.db, relative
# to WORKDIR, so /app/data. Created here and owned by the runtime user, as the server
# creates only the file; a volume, so conversations outlive the container and the
# directory stays writable under a read-only root filesystem. Mount a named volume
# (docker-compose.yml) or a PersistentVolumeClaim there, or set DATABASE_URL to
# postgres://... to run several replicas (README, Deploy).
RUN mkdir /app/data && chown 10001:10001 /app/data
VOLUME ["/app/data"]
# The server reads LEPTOS_* at run time: where the UI files are, and production mode
# (no live-reload script in the page).
ENV LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_ENV=PROD
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/server", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/server"]
