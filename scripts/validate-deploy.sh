#!/usr/bin/env bash
# Validates the deployment files offline: no Docker engine, no cluster, no network.
#   1. Dockerfile: hadolint, failing on any finding (an ignore needs an inline
#      `# hadolint ignore=DLxxxx` with its reason).
#   2. k8s/: every manifest against the Kubernetes JSON schemas, strict (unknown fields
#      are errors), for the oldest and the newest Kubernetes versions we support.
#   3. docker-compose.yml: against the Compose Specification schema.
#   4. scripts/deploy_check.py: the files agree with the binaries (setting names from
#      `--help`, ports, probe paths, cross-references, the conversation store and the
#      PostgreSQL and Redis that replicas share), by starting the real binaries (each
#      on a SQLite file of its own: no database or Redis needed here).
# Uses the release binaries (SERVER_BIN, TOOLBOX_BIN to override); builds them if absent.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# Oldest and newest Kubernetes the manifests are checked against (kubernetes-validate
# ships schemas for 1.25 to 1.37).
K8S_VERSIONS=(1.30.0 1.37.0)

install_python_tools
VENV="$TOOLS/venv/bin"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER_BIN="${SERVER_BIN:-$TARGET_DIR/release/server}"
TOOLBOX_BIN="${TOOLBOX_BIN:-$TARGET_DIR/release/toolbox}"
SITE_DIR="${SITE_DIR:-$ROOT/target/site}"

fail() { printf '\033[1;31mdeployment validation failed: %s\033[0m\n' "$*" >&2; exit 1; }

echo "[1/4] hadolint $("$VENV/hadolint" --version | awk '{print $NF}'): Dockerfile"
"$VENV/hadolint" --failure-threshold style --trusted-registry docker.io Dockerfile \
  || fail "hadolint found problems in Dockerfile (above)"
echo "ok -- Dockerfile"

echo "[2/4] kubernetes-validate (strict, Kubernetes ${K8S_VERSIONS[*]}): k8s/"
mapfile -t manifests < <(find k8s -name '*.yaml' -o -name '*.yml' | sort)
[ "${#manifests[@]}" -gt 0 ] || fail "no manifests in k8s/"
for version in "${K8S_VERSIONS[@]}"; do
  # --quiet: only failures and warnings. kubernetes-validate only warns (exit 0) about
  # a kind or apiVersion it has no schema for (a typo, a removed API such as
  # autoscaling/v2beta2): count that as a failure too.
  if ! out="$("$VENV/kubernetes-validate" --strict --quiet -k "$version" "${manifests[@]}" 2>&1)" \
     || grep -q 'WARN' <<<"$out"; then
    printf '%s\n' "$out"
    fail "k8s/ manifests are not valid for Kubernetes $version (above)"
  fi
done
echo "ok -- ${#manifests[@]} manifest files"

echo "[3/4] check-jsonschema (Compose Specification schema shipped with it): docker-compose.yml"
"$VENV/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml \
  || fail "docker-compose.yml does not follow the Compose Specification (above)"

echo "[4/4] deploy_check.py: the files against the binaries"
if ! [ -x "$SERVER_BIN" ] || ! [ -x "$TOOLBOX_BIN" ]; then
  cargo build --release -p server -p toolbox
fi
# A binary older than the sources would report yesterday's settings.
check_fresh() {
  local bin="$1" stale
  shift
  stale="$(find "$@" -name '*.rs' -newer "$bin" -print -quit)"
  [ -z "$stale" ] || echo "warning: $bin is older than $stale: rebuild it if a setting changed" >&2
}
check_fresh "$SERVER_BIN" server app protocol toolbox
check_fresh "$TOOLBOX_BIN" toolbox
"$VENV/python" scripts/deploy_check.py --server "$SERVER_BIN" --toolbox "$TOOLBOX_BIN" --site "$SITE_DIR" \
  || fail "the deployment files disagree with the binaries (above)"
