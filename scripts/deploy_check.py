#!/usr/bin/env python3
"""Checks that the deployment files agree with the binaries they deploy.

The schema validators (run by scripts/validate-deploy.sh) only know whether a file is
well formed. This checks what they cannot: that every environment variable the
Dockerfile, docker-compose.yml, .env.example and k8s/ set is one the binaries read;
that every port is the one the binary listens on; that names referenced across files
(Dockerfile targets, Services, ConfigMaps, selectors, probe ports) exist; that the
conversation store is where it survives the container, and that replicas serving the
same sessions share one PostgreSQL and one Redis which the files provide and the
network policies let through; and, by starting the real binaries, that every probe
and healthcheck answers as the deployment expects. Services from other projects'
images (PostgreSQL, Redis) get the security, probe and cross-reference checks only.

The known setting names come from the binaries themselves (`--help` lists each with
`[env: NAME=]`), so settings added later are picked up without editing this file.
Only names read by libraries, not by clap, are listed here.

Usage: deploy_check.py --server target/release/server --toolbox target/release/toolbox
Exit status 0 when everything agrees; 1 with one line per problem otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Names read by libraries rather than by clap, per binary. Both binaries log through
# tracing-subscriber (RUST_LOG overrides LOG_LEVEL) and are Rust (RUST_BACKTRACE).
COMMON_LIBRARY_ENV = {"RUST_LOG", "RUST_BACKTRACE"}
# The AWS SDK's default credential and region chain (server only: it calls Bedrock).
AWS_ENV = {
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_USE_FIPS_ENDPOINT",
}
# leptos_config's get_configuration reads these at run time (server only).
LEPTOS_ENV = {
    "LEPTOS_OUTPUT_NAME", "LEPTOS_SITE_ROOT", "LEPTOS_SITE_PKG_DIR", "LEPTOS_ENV",
    "LEPTOS_SITE_ADDR", "LEPTOS_RELOAD_PORT", "LEPTOS_RELOAD_EXTERNAL_PORT",
    "LEPTOS_RELOAD_WS_PROTOCOL", "LEPTOS_NOT_FOUND_PATH", "LEPTOS_HASH_FILE_NAME",
    "LEPTOS_HASH_FILES",
}
# libpq's variables, which sqlx's PostgreSQL driver reads for what a postgres://
# DATABASE_URL leaves out (server only). PGPASSWORD keeps the password out of the URL,
# so out of ConfigMaps (k8s/40-websocket-agent.yaml reads it from a Secret).
POSTGRES_ENV = {
    "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGPASSWORD", "PGPASSFILE", "PGDATABASE",
    "PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGAPPNAME", "PGOPTIONS",
}
LIBRARY_ENV = {
    "server": COMMON_LIBRARY_ENV | AWS_ENV | LEPTOS_ENV | POSTGRES_ENV,
    "toolbox": COMMON_LIBRARY_ENV,
}
# Values the AWS SDK treats as "not set" when empty; clap settings must never be empty
# (clap refuses `NAME=` with "a value is required").
MAY_BE_EMPTY = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"}
# Named by the design document for the Bedrock provider, which another branch adds.
# Reported as a note (not a failure) until `server --help` lists it; then the name is
# checked like any other and this entry can go.
PENDING_SERVER_ENV = {"BEDROCK_MODEL_ID"}
# The design document's contract for the agent's environment.
CONTRACT_AGENT_ENV = {"MCP_SERVER_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID",
                      "AWS_SECRET_ACCESS_KEY", "BEDROCK_MODEL_ID", "LOG_LEVEL"}
# Shared libraries present in the runtime image (debian:bookworm-slim, no packages added).
RUNTIME_LIBS = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0",
                "libdl.so.2", "librt.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}
# The server setting for how long shutdown waits for turns in flight; the platform's
# grace period (terminationGracePeriodSeconds, stop_grace_period) must be longer.
SHUTDOWN_GRACE_ENV = "SHUTDOWN_GRACE_SECS"
# The longest the server's /readyz takes (READINESS_TIMEOUT in server/src/startup.rs).
READINESS_TIMEOUT_SECS = 3
# Paths that stay inside the cluster: not routed by the Ingress.
INTERNAL_PATHS = ["/metrics", "/healthz", "/readyz", "/health", "/mcp"]
# Where the build tools' versions are pinned (xtask and scripts/lib.sh read them there).
SITE_TOOLS = "[workspace.metadata.site-tools] in Cargo.toml"
# Paths the HEALTHCHECK (`--healthcheck`) probes, besides those in the manifests.
HEALTHCHECK_PATH = "/healthz"
# The server's conversation store and the bus shared by its replicas (`server --help`).
STORE_ENV, BUS_ENV = "DATABASE_URL", "REDIS_URL"
# Their usual ports, when a URL names none.
DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "redis": 6379}
# ingress-nginx annotations that pin a client to one pod.
AFFINITY_ANNOTATIONS = ("nginx.ingress.kubernetes.io/affinity",
                        "nginx.ingress.kubernetes.io/upstream-hash-by")


# --- reporting --------------------------------------------------------------------------

class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        """Records one check; prints failures at once, with what was expected."""
        if ok:
            self.passed += 1
        else:
            line = f"{what}: {detail}" if detail else what
            self.problems.append(line)
            print(f"  FAIL {line}", flush=True)
        return ok

    def note(self, text: str) -> None:
        print(f"  note {text}", flush=True)


R = Report()


def section(title: str) -> None:
    print(f"-- {title}", flush=True)


# --- what the binaries accept --------------------------------------------------------------

@dataclass
class Binary:
    name: str
    path: Path
    env: dict[str, str | None] = field(default_factory=dict)  # name -> default
    flags: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, name: str, path: Path) -> "Binary":
        text = subprocess.run([str(path), "--help"], capture_output=True, text=True,
                              check=True, timeout=30).stdout
        binary = cls(name, path)
        binary.flags = set(re.findall(r"^\s+(?:-\w, )?(--[a-z0-9-]+)", text, re.M))
        # Each option's block: `[env: NAME=]` then, maybe, `[default: VALUE]`.
        for block in re.split(r"\n(?=\s{2,}(?:-\w, )?--)", text):
            # `[env: NAME=]`, or `[env: NAME]` for settings with hidden values (secrets).
            env = re.search(r"\[env: ([A-Z0-9_]+)[=\]]", block)
            if env:
                default = re.search(r"\[default: ([^\]]*)\]", block)
                binary.env[env.group(1)] = default.group(1) if default else None
        if not binary.env:
            sys.exit(f"{path} --help lists no [env: NAME=]: cannot learn its settings")
        return binary

    def accepts(self, var: str) -> bool:
        return var in self.env or var in LIBRARY_ENV[self.name]


# --- Dockerfile ------------------------------------------------------------------------------

@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def dockerfile_lines(text: str) -> list[str]:
    """Logical instructions: comments dropped, `\\` continuations joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    return lines


def parse_dockerfile(path: Path):
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    order: list[Stage] = []
    for line in dockerfile_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else f"#{len(order)}"
            stage = Stage(name, parts[0])
            stages[name] = stage
            order.append(stage)
        elif not order:
            if keyword == "ARG":
                key, _, value = rest.partition("=")
                global_args[key.strip()] = value.strip()
        else:
            order[-1].instructions.append((keyword, rest.strip()))
    return global_args, stages, order


def kv_pairs(rest: str) -> dict[str, str]:
    """`ENV A=1 B="two words"` -> {A: 1, B: two words}."""
    out = {}
    for token in shlex.split(rest):
        key, sep, value = token.partition("=")
        if sep:
            out[key] = value
    return out


def stage_chain(stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built FROM, base first."""
    chain = []
    while name in stages:
        chain.insert(0, stages[name])
        name = stages[name].base
    return chain


@dataclass
class Target:
    """What a runtime target of the Dockerfile gives its container."""
    name: str
    env: dict[str, str]
    user: str | None
    expose: list[str]
    entrypoint: list[str]
    healthcheck: list[str]
    copies: list[tuple[str | None, str, str]]  # (from stage, source, destination)
    workdir: str = "/"
    volumes: list[str] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)


def target_of(stages: dict[str, Stage], name: str) -> Target:
    t = Target(name, {}, None, [], [], [], [])
    for stage in stage_chain(stages, name):
        for keyword, rest in stage.instructions:
            if keyword == "WORKDIR":
                t.workdir = str(PurePosixPath(t.workdir) / rest)
            elif keyword == "VOLUME":
                t.volumes += json.loads(rest) if rest.startswith("[") else rest.split()
            elif keyword == "RUN":
                t.runs.append(rest)
            elif keyword == "ENV":
                t.env.update(kv_pairs(rest))
            elif keyword == "USER":
                t.user = rest
            elif keyword == "EXPOSE":
                t.expose += [p.split("/")[0] for p in rest.split()]
            elif keyword == "ENTRYPOINT":
                t.entrypoint = json.loads(rest)
            elif keyword == "HEALTHCHECK":
                cmd = re.search(r"\bCMD\s+(\[.*\])\s*$", rest)
                t.healthcheck = json.loads(cmd.group(1)) if cmd else [rest]
            elif keyword == "COPY":
                args = shlex.split(rest)
                source_stage = next((a.split("=", 1)[1] for a in args if a.startswith("--from=")), None)
                paths = [a for a in args if not a.startswith("--")]
                for src in paths[:-1]:
                    t.copies.append((source_stage, src, paths[-1]))
    return t


def effective_port(binary: Binary, env: dict[str, str]) -> str:
    return env.get("PORT") or binary.env.get("PORT") or "?"


def check_dockerfile(binaries: dict[str, Binary]) -> dict[str, Target]:
    section("Dockerfile: targets, users, ports, healthchecks, entrypoints, versions")
    global_args, stages, order = parse_dockerfile(ROOT / "Dockerfile")
    targets: dict[str, Target] = {}
    for name, binary in binaries.items():
        if not R.check(name in stages, f"Dockerfile target `{name}`", "no stage `AS " + name + "`"):
            continue
        t = target_of(stages, name)
        targets[name] = t
        where = f"Dockerfile target `{name}`"
        # The entrypoint is the binary, copied from the release build.
        exe = t.entrypoint[0] if t.entrypoint else ""
        R.check(Path(exe).name == name, f"{where} ENTRYPOINT", f"{t.entrypoint} does not run `{name}`")
        R.check(any(dst == exe and src.endswith(f"target/release/{name}") for _, src, dst in t.copies),
                f"{where} ENTRYPOINT", f"{exe} is not where target/release/{name} is copied")
        R.check(t.healthcheck == [exe, "--healthcheck"], f"{where} HEALTHCHECK",
                f"{t.healthcheck} should be exec form [\"{exe}\", \"--healthcheck\"]")
        R.check("--healthcheck" in binary.flags, f"{where} HEALTHCHECK",
                f"`{name} --help` has no --healthcheck flag")
        uid = (t.user or "").split(":")[0]
        R.check(uid.isdigit() and int(uid) != 0, f"{where} USER",
                f"{t.user!r} must be a numeric non-root uid (Kubernetes runAsNonRoot needs one)")
        port = effective_port(binary, t.env)
        R.check(t.expose == [port], f"{where} EXPOSE", f"{t.expose} but `{name}` listens on PORT {port}")
        for var, value in t.env.items():
            R.check(binary.accepts(var), f"{where} ENV {var}", f"`{name}` does not read it")
            R.check(value != "" or var in MAY_BE_EMPTY, f"{where} ENV {var}", "empty value")
        # The runtime image adds no packages: a binary needing more than glibc and
        # libgcc (e.g. libssl through native-tls) would not start in it.
        ldd = subprocess.run(["ldd", str(binary.path)], capture_output=True, text=True)
        if ldd.returncode == 0:
            libs = {Path(line.split()[0]).name for line in ldd.stdout.splitlines() if line.strip()}
            R.check(libs <= RUNTIME_LIBS, f"{where} runtime libraries",
                    f"`{name}` links {sorted(libs - RUNTIME_LIBS)}, absent from the slim runtime image")
        # The default SQLite store's folder (relative to WORKDIR) must exist and belong
        # to the user, since the server creates only the file, and must be a VOLUME, or
        # conversations go with the container (and a read-only root cannot hold them).
        default_store = binary.env.get(STORE_ENV) or ""
        folder = sqlite_folder(default_store, t.workdir)
        if folder:
            R.check(folder in [v.rstrip("/") for v in t.volumes], f"{where} VOLUME",
                    f"{folder} (the folder of the default {STORE_ENV}={default_store}) is not a VOLUME")
            R.check(any(folder in run and re.search(rf"\bchown\s+(?:-\S+\s+)*{uid}\b", run)
                        for run in t.runs), f"{where} {folder}",
                    f"no RUN creates it owned by the USER ({uid}): the server cannot create its store")
        if name == "server":
            site = t.env.get("LEPTOS_SITE_ROOT", "")
            R.check(any(dst.rstrip("/") == site and src.rstrip("/").endswith("target/site")
                        for _, src, dst in t.copies),
                    f"{where} LEPTOS_SITE_ROOT", f"{site!r} is not where target/site is copied")

    # Build tool versions must be the ones the repository builds and tests with.
    args = dict(global_args)
    for stage in order:
        for keyword, rest in stage.instructions:
            if keyword == "ARG" and "=" in rest:
                key, _, value = rest.partition("=")
                args[key.strip()] = value.strip()
    lock = (ROOT / "Cargo.lock").read_text()
    wasm_bindgen = re.search(r'name = "wasm-bindgen"\nversion = "([^"]+)"', lock)
    cargo = tomllib.loads((ROOT / "Cargo.toml").read_text())
    site_tools = cargo["workspace"]["metadata"].get("site-tools", {})
    expected = {
        "WASM_BINDGEN_VERSION": (wasm_bindgen.group(1) if wasm_bindgen else "?", "Cargo.lock"),
        "BINARYEN_VERSION": (site_tools.get("binaryen", "?"), SITE_TOOLS),
        "TERSER_VERSION": (site_tools.get("terser", "?"), SITE_TOOLS),
        "LIGHTNINGCSS_VERSION": (site_tools.get("lightningcss-cli", "?"), SITE_TOOLS),
    }
    for key, (want, source) in expected.items():
        R.check(args.get(key) == want, f"Dockerfile ARG {key}", f"{args.get(key)!r}, {source} has {want!r}")
    floor = cargo["workspace"]["package"]["rust-version"]
    rust = args.get("RUST_VERSION", "0")
    R.check(_version(rust) >= _version(floor), "Dockerfile ARG RUST_VERSION",
            f"{rust} is older than the workspace's rust-version {floor}")
    runs = [rest for s in order for k, rest in s.instructions if k == "RUN"]
    # The wasm cook must use the profile the site build compiles the front end with.
    front_profile = cargo["workspace"]["metadata"]["leptos"][0].get("lib-profile-release")
    cooks = [rest for rest in runs if "chef cook" in rest and "wasm32" in rest]
    R.check(bool(cooks) and all(f"--profile {front_profile}" in c for c in cooks),
            "Dockerfile wasm cook", f"must use --profile {front_profile} (lib-profile-release)")
    # The images are built by the same step as scripts/run.sh and scripts/test.sh, and
    # never compile cargo-leptos (10-17 minutes for three commands).
    R.check(any("cargo xtask site --frontend-only" in r for r in runs)
            and any("cargo xtask site --server-only" in r for r in runs),
            "Dockerfile build step", "the site and the server must be built by `cargo xtask site`")
    R.check(not any(re.search(r"cargo[- ]leptos", r) for r in runs),
            "Dockerfile build step", "must not install or run cargo-leptos")
    # The image's front end is the run command's: split the same way, and cooked with
    # the same features and link flags so the cook's layer is the one the build reuses.
    run_sh = (ROOT / "scripts" / "run.sh").read_text()
    run_line = next((l for l in run_sh.splitlines() if l.startswith("cargo xtask site")), "")
    front_flags = re.findall(r"--split\b|--lib-features \S+", run_line)
    front_runs = [r for r in runs if "cargo xtask site --frontend-only" in r]
    R.check(bool(front_runs) and all(f in front_runs[0] for f in front_flags),
            "Dockerfile build step", f"the site must be built with {' '.join(front_flags)!r} "
            "as scripts/run.sh builds it")
    if "--split" in front_flags:
        features = [f.split()[1] for f in front_flags if f.startswith("--lib-features")]
        R.check(bool(cooks) and all("RUSTFLAGS=-Clink-args=--emit-relocs" in c
                                    and all(f"--features {f}" in c for f in features)
                                    for c in cooks),
                "Dockerfile wasm cook", "must cook with RUSTFLAGS=-Clink-args=--emit-relocs and "
                f"--features {','.join(features)}, as the split build compiles")
    return targets


def sqlite_folder(url: str, workdir: str | None = None) -> str | None:
    """The folder of a `sqlite:` DATABASE_URL's file, against `workdir` when relative
    (None for other stores and in-memory SQLite)."""
    match = re.match(r"sqlite:(?://)?([^?]*)", url)
    if not match or match.group(1) in ("", ":memory:"):
        return None
    path = PurePosixPath(match.group(1))
    if not path.is_absolute():
        if workdir is None:
            return str(path.parent)
        path = PurePosixPath(workdir) / path
    return str(path.parent)


def store_kind(url: str) -> str:
    """`sqlite`, `postgres` or `memory`, as the server reads DATABASE_URL."""
    scheme = url.split(":", 1)[0]
    return "postgres" if scheme == "postgresql" else scheme


def check_grace(binary: Binary, env: dict[str, str], platform_secs: float, where: str, what: str) -> None:
    """The platform waits longer after SIGTERM than the server waits for its turns."""
    if SHUTDOWN_GRACE_ENV not in binary.env:
        return
    value = env.get(SHUTDOWN_GRACE_ENV) or binary.env[SHUTDOWN_GRACE_ENV] or "0"
    R.check(platform_secs > float(value), f"{where} {what}",
            f"{platform_secs:g} s, not longer than {SHUTDOWN_GRACE_ENV}={value}: turns in flight "
            "would be killed before the server closes their sockets")


def _duration(text: str) -> float:
    """Compose durations: `40s`, `1m30s`, `500ms`."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|us|h|m|s)", str(text)))


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


# --- environments ------------------------------------------------------------------------------

def read_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(active NAME=value lines, names of commented-out `# NAME=value` lines)."""
    active, commented = {}, set()
    for line in path.read_text().splitlines():
        line = line.strip()
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            active[match.group(1)] = value
            continue
        match = re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            commented.add(match.group(1))
    return active, commented


def check_env(binary: Binary, env: dict[str, str], where: str) -> None:
    """Every name is read by the binary; no setting is empty."""
    for var, value in env.items():
        if var in PENDING_SERVER_ENV and binary.name == "server" and var not in binary.env:
            R.note(f"{where}: {var} is not read by `server` yet (design contract; Bedrock provider pending)")
            continue
        R.check(binary.accepts(var), f"{where}: {var}",
                f"`{binary.name}` does not read it (not in `{binary.name} --help`, not a library variable)")
        R.check(value != "" or var in MAY_BE_EMPTY, f"{where}: {var}",
                "empty value: clap refuses it at startup (leave the variable out instead)")


def check_parses(binary: Binary, env: dict[str, str], where: str) -> None:
    """The binary accepts these values: `--healthcheck` parses every setting first and
    exits 2 on a bad one; on a port nothing listens on it then exits 1."""
    run_env = _base_env() | {k: v for k, v in env.items() if k not in PENDING_SERVER_ENV}
    run_env["PORT"] = str(free_port())
    done = subprocess.run([str(binary.path), "--healthcheck"], env=run_env, capture_output=True,
                          text=True, timeout=30)
    R.check(done.returncode in (0, 1), f"{where}: settings", f"`{binary.name}` refuses them: "
            + done.stderr.strip().splitlines()[0] if done.stderr.strip() else f"exit {done.returncode}")


def _base_env() -> dict[str, str]:
    """A clean environment: only what a process needs, none of the caller's settings."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}


def interpolate(text: str, values: dict[str, str], missing: set[str]) -> str:
    """Compose-style ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, $$."""
    def repl(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        value = values.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return arg
            return value
        if value is None:
            missing.add(name)
            return ""
        return value
    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|-|:\?|\?)([^}]*))?\}", repl, text)


# --- docker-compose.yml ----------------------------------------------------------------------

def check_compose(binaries: dict[str, Binary], targets: dict[str, Target]) -> list[dict]:
    section("docker-compose.yml and .env.example: services, ports, healthchecks, environment")
    dotenv, commented = read_env_file(ROOT / ".env.example")
    missing: set[str] = set()
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(interpolate(text, dotenv, missing))
    R.check(not missing, "docker-compose.yml interpolation",
            f"{sorted(missing)} have no default and are not in .env.example")
    # Variables Compose itself substitutes (`${NAME}`): .env may set them for Compose
    # even when the binaries do not read them (they reach the containers, unused).
    compose_vars = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    services = compose.get("services", {})
    R.check(set(services) >= {"mcp-server", "websocket-agent"}, "docker-compose.yml services",
            f"{sorted(services)}: the design names `mcp-server` and `websocket-agent`")
    runs = []
    for name, svc in services.items():
        where = f"compose service {name}"
        if "build" not in svc:
            # Another project's image (PostgreSQL, Redis): not one of our binaries. The
            # agents wait for it to be healthy, so it needs a healthcheck.
            R.check(bool(svc.get("image")), where, "neither build nor image")
            R.check(bool((svc.get("healthcheck") or {}).get("test")), f"{where} healthcheck",
                    "missing: the agents wait for it with condition service_healthy")
            continue
        target = (svc.get("build") or {}).get("target")
        if not R.check(target in targets, where, f"build.target {target!r} is not a Dockerfile target"):
            continue
        binary, image = binaries[target], targets[target]
        own: dict[str, str] = {}
        for entry in _env_files(svc):
            # `.env` is not committed: it is copied from .env.example.
            source = ".env.example" if Path(entry).name == ".env" else entry
            active, shown = read_env_file(ROOT / source)
            for_compose = {v for v in compose_vars if not binary.accepts(v)}
            own.update({k: v for k, v in active.items() if k not in for_compose})
            # Commented-out settings must be real names too: users uncomment them.
            check_env(binary, {var: "example" for var in shown - set(active) - for_compose},
                      f"{source} (commented)")
        environment = svc.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
        own.update({k: "" if v is None else str(v) for k, v in environment.items()})
        check_env(binary, own, where)
        env = image.env | own
        check_parses(binary, env, where)
        port = effective_port(binary, env)
        published = [str(p) for p in svc.get("ports", [])]
        for mapping in published:
            R.check(mapping.rsplit(":", 1)[-1].split("/")[0] == port, f"{where} ports",
                    f"{mapping!r}: the container listens on {port}")
        for exposed in svc.get("expose", []):
            R.check(str(exposed) == port, f"{where} expose", f"{exposed!r}: it listens on {port}")
        test = (svc.get("healthcheck") or {}).get("test")
        R.check(test == ["CMD", *image.healthcheck], f"{where} healthcheck",
                f"{test} should be [\"CMD\", {', '.join(json.dumps(a) for a in image.healthcheck)}]")
        check_grace(binary, env, _duration(svc.get("stop_grace_period", "10s")), where, "stop_grace_period")
        # A SQLite store is a file in the container: it must be on a volume, or the
        # conversations go with the container (and a read-only root cannot hold them).
        folder = sqlite_folder(env.get(STORE_ENV) or binary.env.get(STORE_ENV) or "", image.workdir)
        if folder:
            # Short syntax `SOURCE:TARGET[:MODE]` or a bare TARGET; long syntax `target:`.
            mounts = [(v.split(":") + [""])[1] or v if isinstance(v, str) else v.get("target")
                      for v in svc.get("volumes", [])]
            R.check(folder in mounts, f"{where} volumes",
                    f"nothing mounted at {folder}, where its SQLite store ({STORE_ENV}) is written")
        replicas = max(int((svc.get("deploy") or {}).get("replicas", 1)), int(svc.get("scale", 1)))
        runs.append({"where": where, "binary": target, "env": env, "service": name, "replicas": replicas,
                     "sticky": "one replica" if replicas == 1 else None})

    agent, toolbox = services.get("websocket-agent", {}), services.get("mcp-server", {})
    R.check([str(p) for p in agent.get("ports", [])] == ["8002:8000"], "compose websocket-agent ports",
            f"{agent.get('ports')}: the design publishes it as 8002:8000")
    R.check(not toolbox.get("ports"), "compose mcp-server ports",
            "the toolbox is internal: `expose`, not `ports`")
    toolbox_run = next((r for r in runs if r["service"] == "mcp-server"), None)
    agent_runs = [r for r in runs if r["binary"] == "server"]
    # Where a service is reachable inside the network: its `expose` and container ports.
    reachable = {name: {str(p) for p in svc.get("expose", [])}
                 | {str(p).rsplit(":", 1)[-1].split("/")[0] for p in svc.get("ports", [])}
                 for name, svc in services.items()}
    for run in agent_runs:
        name, svc = run["service"], services[run["service"]]
        depends = svc.get("depends_on") or {}
        condition = (depends.get("mcp-server") or {}).get("condition") if isinstance(depends, dict) else None
        R.check(condition == "service_healthy", f"compose {name} depends_on",
                f"mcp-server condition {condition!r}, want service_healthy")
        if toolbox_run:
            check_mcp_url(run["env"].get("MCP_SERVER_URL", ""), f"compose {name}",
                          services={"mcp-server": effective_port(binaries["toolbox"], toolbox_run["env"])},
                          allowed_hosts=toolbox_run["env"].get("MCP_ALLOWED_HOSTS", ""))
            R.check(run["env"].get("MCP_SERVER_URL") == "http://mcp-server:8000",
                    f"compose {name} MCP_SERVER_URL", "the design sets http://mcp-server:8000")
        # The database and Redis it names are services of this file, on a port they
        # expose, started (and healthy) before it.
        for var in (STORE_ENV, BUS_ENV):
            url = urlsplit(run["env"].get(var, ""))
            if url.scheme not in DEFAULT_PORTS:
                continue
            host, port = url.hostname or "", str(url.port or DEFAULT_PORTS[url.scheme])
            if not R.check(host in services, f"compose {name} {var}", f"{host!r} is not a service here"):
                continue
            R.check(port in reachable[host], f"compose {name} {var}",
                    f"service {host} exposes {sorted(reachable[host])}, not {port}")
            condition = (depends.get(host) or {}).get("condition") if isinstance(depends, dict) else None
            R.check(condition == "service_healthy", f"compose {name} depends_on",
                    f"{host} condition {condition!r}, want service_healthy")
            R.check(not set(services[host].get("profiles", [])) - set(svc.get("profiles", [])),
                    f"compose {name} {var}", f"service {host} is in a profile {name} does not share")
            if url.scheme != "redis":
                check_postgres_credentials(url, services[host].get("environment") or {},
                                           f"compose {name} {var}", f"service {host}")
    check_shared_sessions(agent_runs, "compose")
    agent_run = next((r for r in agent_runs if r["service"] == "websocket-agent"), None)
    if agent_run:
        agent_names = set(agent_run["env"]) | commented
        R.check(CONTRACT_AGENT_ENV <= agent_names, "compose websocket-agent environment",
                f"missing the design's {sorted(CONTRACT_AGENT_ENV - agent_names)}")
    return runs


def check_postgres_credentials(url, environment: dict, where: str, server: str,
                               parts: tuple[str, ...] = ("user", "password", "database")) -> None:
    """The user, password and database of a postgres:// URL are those the official
    image creates from POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB."""
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment if "=" in item)
    want = {"user": environment.get("POSTGRES_USER", "postgres"),
            "password": environment.get("POSTGRES_PASSWORD"),
            "database": environment.get("POSTGRES_DB") or environment.get("POSTGRES_USER", "postgres")}
    have = {"user": url.username, "password": url.password, "database": url.path.lstrip("/")}
    for part in parts:
        R.check(have[part] == want[part], where, f"{part} {have[part]!r}, but {server} creates {want[part]!r}")


def check_shared_sessions(agent_runs: list[dict], kind: str) -> None:
    """Replicas serving the same sessions share one PostgreSQL and one Redis: any
    replica then serves any session. A SQLite file or memory serves one process only,
    and without Redis a replica cannot reach turns running on another."""
    stores: dict[str, list[dict]] = {}
    for run in agent_runs:
        # A postgres:// URL is one database wherever it is used; any other store is
        # the process's own (a file in its container, or memory).
        url = run["env"].get(STORE_ENV) or ""
        stores.setdefault(url if store_kind(url) == "postgres" else f"{url} in {run['where']}", []).append(run)
    for group in stores.values():
        replicas = sum(r.get("replicas", 1) for r in group)
        if replicas <= 1:
            continue
        names = ", ".join(r["service"] for r in group)
        url = group[0]["env"].get(STORE_ENV) or "the default"
        R.check(store_kind(url) == "postgres", f"{kind} {names} {STORE_ENV}",
                f"up to {replicas} replicas on {url!r}, which only one process can use: "
                "several replicas need postgres://")
        buses = {r["env"].get(BUS_ENV) or None for r in group}
        R.check(len(buses) == 1 and None not in buses, f"{kind} {names} {BUS_ENV}",
                f"{replicas} replicas of one store need one shared Redis, have {sorted(map(str, buses))}")


def _env_files(svc: dict) -> list[str]:
    files = svc.get("env_file") or []
    files = [files] if isinstance(files, str) else files
    return [f if isinstance(f, str) else f["path"] for f in files]


def check_mcp_url(url: str, where: str, services: dict[str, str], allowed_hosts: str,
                  namespace: str | None = None) -> None:
    """The agent's MCP_SERVER_URL names the toolbox service, on its port, with a Host
    header the toolbox accepts."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    service = host.split(".")[0]
    R.check(service in services, f"{where} MCP_SERVER_URL", f"{url!r}: no service {service!r}")
    if namespace and "." in host:
        R.check(host.split(".")[1] == namespace, f"{where} MCP_SERVER_URL",
                f"{url!r} is not in namespace {namespace!r}")
    if service in services:
        R.check(str(parts.port or 80) == services[service], f"{where} MCP_SERVER_URL",
                f"{url!r}: service {service} listens on {services[service]}")
    allowed = [h.strip() for h in allowed_hosts.split(",")]
    R.check("*" in allowed or host in allowed or f"{host}:{parts.port}" in allowed,
            f"{where} MCP_SERVER_URL", f"host {host!r} is not in the toolbox's MCP_ALLOWED_HOSTS {allowed}")


# --- Kubernetes --------------------------------------------------------------------------------

def load_manifests() -> list[tuple[Path, dict]]:
    docs = []
    for path in sorted((ROOT / "k8s").rglob("*.yaml")) + sorted((ROOT / "k8s").rglob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.relative_to(ROOT), doc))
    return docs


def _matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def official_image(image: str) -> bool:
    """An official Docker Hub image (`postgres:17`, `docker.io/library/redis:7.4`):
    another project's software, such as the services the server uses."""
    head, _, last = image.split("@")[0].rpartition("/")
    repository = f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]
    for prefix in ("docker.io/library/", "library/"):
        repository = repository.removeprefix(prefix)
    return "/" not in repository


def container_env(c: dict, where: str, configmaps: dict, secrets: dict) -> dict[str, str]:
    """A container's own environment: envFrom ConfigMaps/Secrets, then env. Values from
    Secrets read as `secret`; the ConfigMaps and Secret keys named must exist (or the
    reference be optional)."""
    own: dict[str, str] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            ref = source["configMapRef"]
            cm = configmaps.get(ref["name"])
            if R.check(cm is not None or ref.get("optional"), where, f"envFrom ConfigMap {ref['name']!r} missing"):
                own.update({k: str(v) for k, v in (cm or {}).get("data", {}).items()})
        if "secretRef" in source:
            secret = secrets.get(source["secretRef"]["name"], {})
            own.update({k: "secret" for k in {**secret.get("data", {}), **secret.get("stringData", {})}})
    for item in c.get("env", []):
        value = item.get("value")
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secret = secrets.get(ref["name"])
            if secret is not None:
                keys = {**secret.get("data", {}), **secret.get("stringData", {})}
                R.check(ref["key"] in keys, where, f"Secret {ref['name']} has no key {ref['key']!r}")
            else:
                R.check(ref.get("optional") is True, where,
                        f"Secret {ref['name']!r} is neither in k8s/ nor optional")
            value = "secret"
        own[item["name"]] = "" if value is None else str(value)
    return own


def check_kubernetes(binaries: dict[str, Binary], targets: dict[str, Target]) -> list[dict]:
    section("k8s/: images, security, probes, ports, environment, cross-references")
    docs = load_manifests()
    by_kind: dict[str, dict[str, dict]] = {}
    for _, doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    namespaces = list(by_kind.get("Namespace", {}))
    R.check(len(namespaces) == 1, "k8s Namespace", f"expected one Namespace manifest, found {namespaces}")
    namespace = namespaces[0] if namespaces else None
    for path, doc in docs:
        if doc["kind"] != "Namespace":
            R.check(doc["metadata"].get("namespace") == namespace, f"{path} {doc['kind']}/{doc['metadata']['name']}",
                    f"namespace {doc['metadata'].get('namespace')!r}, want {namespace!r}")
    for kind in ("Deployment", "Service", "ConfigMap", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Ingress"):
        R.check(kind in by_kind, f"k8s {kind}", "none found")
    deployments = by_kind.get("Deployment", {})
    services = by_kind.get("Service", {})
    configmaps = by_kind.get("ConfigMap", {})
    secrets = by_kind.get("Secret", {})
    R.check(set(deployments) >= {"mcp-server", "websocket-agent"}, "k8s Deployments",
            f"{sorted(deployments)}: want mcp-server and websocket-agent")
    R.check("mcp-server" in services, "k8s Service mcp-server",
            "missing: MCP_SERVER_URL=http://mcp-server:8000 names it")
    # Pods come from Deployments (ours, Redis) and StatefulSets (PostgreSQL).
    workloads = {**by_kind.get("StatefulSet", {}), **deployments}
    hpa_max = {h["spec"]["scaleTargetRef"]["name"]: int(h["spec"].get("maxReplicas", 1))
               for h in by_kind.get("HorizontalPodAutoscaler", {}).values()}

    runs, container_ports, third_party = [], {}, {}
    for dep_name, dep in workloads.items():
        kind = dep["kind"]
        pod = dep["spec"]["template"]["spec"]
        labels = dep["spec"]["template"]["metadata"].get("labels", {})
        R.check(_matches(dep["spec"]["selector"].get("matchLabels", {}), labels),
                f"{kind} {dep_name}", "selector does not match the pod template's labels")
        if kind == "StatefulSet":
            R.check(dep["spec"].get("serviceName") in services, f"{kind} {dep_name}",
                    f"serviceName {dep['spec'].get('serviceName')!r} is not a Service here")
        pod_sc = pod.get("securityContext", {})
        for c in pod["containers"]:
            where = f"{kind} {dep_name} container {c['name']}"
            sc = c.get("securityContext", {})
            target = c["image"].rsplit("/", 1)[-1].split(":")[0].split("@")[0]
            ours = target in targets
            if not R.check(ours or official_image(c["image"]), f"{where} image",
                           f"{c['image']!r}: its name should be a Dockerfile target {sorted(targets)} "
                           "(or an official Docker Hub image, for the services it uses)"):
                continue
            # Security: what the Pod Security "restricted" profile asks, plus a read-only root.
            R.check(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where, "runAsNonRoot must be true")
            uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
            if ours:
                image = targets[target]
                R.check(uid is not None and str(uid) == (image.user or "").split(":")[0], where,
                        f"runAsUser {uid} differs from the image's USER {image.user}")
            else:
                R.check(str(uid).isdigit() and int(uid) != 0, where,
                        f"runAsUser {uid!r}: a numeric non-root uid (the image's own user)")
            R.check(sc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem must be true")
            R.check(sc.get("allowPrivilegeEscalation") is False, where, "allowPrivilegeEscalation must be false")
            R.check(sc.get("capabilities", {}).get("drop") == ["ALL"], where, "capabilities must drop ALL")
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
            R.check(seccomp == "RuntimeDefault", where, f"seccompProfile {seccomp!r}, want RuntimeDefault")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                R.check({"cpu", "memory"} <= set(res.get(part, {})), where, f"resources.{part} needs cpu and memory")
            named = {p.get("name"): str(p["containerPort"]) for p in c.get("ports", [])}
            container_ports[dep_name] = named
            if not ours:
                # Another project's image (PostgreSQL, Redis): not one of our binaries,
                # so no settings or paths to compare; it is probed on its own ports.
                env = container_env(c, where, configmaps, secrets)
                for probe in ("livenessProbe", "readinessProbe"):
                    R.check(probe in c, where, f"{probe} missing")
                for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                    handler = (c.get(probe) or {}).get("tcpSocket") or (c.get(probe) or {}).get("httpGet")
                    if handler:
                        R.check(str(handler["port"]) in named or str(handler["port"]) in named.values(),
                                f"{where} {probe}", f"port {handler['port']!r} is not a container port")
                third_party[dep_name] = {"env": env, "container": c}
                continue
            binary, image = binaries[target], targets[target]
            own = container_env(c, where, configmaps, secrets)
            check_env(binary, own, where)
            env = dict(image.env)
            env.update(own)
            check_parses(binary, env, where)
            port = effective_port(binary, env)
            R.check(list(named.values()) == [port], f"{where} containerPort",
                    f"{list(named.values())}: `{target}` listens on PORT {port}")
            # A SQLite store is written in the container: on a read-only root it needs
            # a volume there (and then the Deployment can have one pod only).
            folder = sqlite_folder(env.get(STORE_ENV) or binary.env.get(STORE_ENV) or "", image.workdir)
            if folder:
                mounts = [m["mountPath"].rstrip("/") for m in c.get("volumeMounts", [])]
                R.check(folder in mounts, f"{where} {STORE_ENV}",
                        f"nothing mounted at {folder}, where its SQLite store is written")
            paths = []
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                spec = c.get(probe)
                if probe != "startupProbe":
                    R.check(spec is not None, where, f"{probe} missing")
                if not spec:
                    continue
                get = spec.get("httpGet")
                if R.check(get is not None, f"{where} {probe}", "want an httpGet probe"):
                    probe_port = named.get(get["port"], str(get["port"]))
                    R.check(probe_port == port, f"{where} {probe}", f"port {get['port']!r} is not {port}")
                    paths.append((probe, get["path"]))
            check_grace(binary, env, float(pod.get("terminationGracePeriodSeconds", 30)), where,
                        "terminationGracePeriodSeconds")
            notes = dep["spec"]["template"]["metadata"].get("annotations", {})
            if "prometheus.io/path" in notes:
                R.check(notes.get("prometheus.io/port") == port, f"{where} prometheus.io/port",
                        f"{notes.get('prometheus.io/port')!r}, the container listens on {port}")
                paths.append(("metrics", notes["prometheus.io/path"]))
            # /readyz answers within READINESS_TIMEOUT_SECS: a probe that gives up
            # sooner would fail a healthy pod whose toolbox is merely slow.
            readiness = c.get("readinessProbe") or {}
            if target == "server" and readiness:
                R.check(int(readiness.get("timeoutSeconds", 1)) > READINESS_TIMEOUT_SECS,
                        f"{where} readinessProbe",
                        f"timeoutSeconds {readiness.get('timeoutSeconds', 1)} is not longer than "
                        f"/readyz's worst case ({READINESS_TIMEOUT_SECS} s)")
            want = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
            for probe, path in paths:
                if probe in want:
                    R.check(path == want[probe], f"{where} {probe}", f"path {path!r}, want {want[probe]}")
            replicas = max(int(dep["spec"].get("replicas", 1)), hpa_max.get(dep_name, 0))
            runs.append({"where": where, "binary": target, "env": env, "service": dep_name,
                         "replicas": replicas, "paths": sorted({p for _, p in paths})})

    # Services select pods and reach a named or numbered container port.
    service_ports, service_workload = {}, {}
    for name, svc in services.items():
        selector = svc["spec"].get("selector", {})
        matched = [d for d, dep in workloads.items()
                   if _matches(selector, dep["spec"]["template"]["metadata"].get("labels", {}))]
        R.check(len(matched) == 1, f"Service {name}", f"selector {selector} matches {matched}")
        if matched:
            service_workload[name] = matched[0]
        for p in svc["spec"]["ports"]:
            if matched:
                target = str(p.get("targetPort", p["port"]))
                ports = container_ports.get(matched[0], {})
                R.check(target in ports or target in ports.values(), f"Service {name} port {p['port']}",
                        f"targetPort {target!r} is not a port of {workloads[matched[0]]['kind']} {matched[0]}")
        service_ports[name] = {str(p["port"]): p for p in svc["spec"]["ports"]}
        service_ports[name].update({p["name"]: p for p in svc["spec"]["ports"] if "name" in p})

    agent = next((r for r in runs if r["service"] == "websocket-agent"), None)
    toolbox = next((r for r in runs if r["service"] == "mcp-server"), None)
    if toolbox and "mcp-server" in services:
        # What keeps an MCP session on the replica that created it (see check_live).
        hpa = [h for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
               if h["spec"]["scaleTargetRef"]["name"] == "mcp-server"]
        if services["mcp-server"]["spec"].get("sessionAffinity") == "ClientIP":
            toolbox["sticky"] = "Service sessionAffinity: ClientIP"
        elif deployments["mcp-server"]["spec"].get("replicas", 1) == 1 and not hpa:
            toolbox["sticky"] = "one replica"
        else:
            toolbox["sticky"] = None
    if agent and toolbox:
        check_mcp_url(agent["env"].get("MCP_SERVER_URL", ""), "k8s websocket-agent",
                      services={n: str(next(iter(svc["spec"]["ports"]))["port"]) for n, svc in services.items()},
                      allowed_hosts=toolbox["env"].get("MCP_ALLOWED_HOSTS", ""), namespace=namespace)
        allowed = toolbox["env"].get("MCP_ALLOWED_HOSTS", "").split(",")
        fqdn = f"mcp-server.{namespace}.svc.cluster.local"
        R.check(fqdn in allowed, "k8s mcp-server MCP_ALLOWED_HOSTS", f"should list {fqdn} (the Service's full name)")
    policies = list(by_kind.get("NetworkPolicy", {}).values())
    if agent:
        # The database and Redis it names are Services here (examples/), on their
        # ports, and the NetworkPolicies let the agent pods through, both ways.
        agent_labels = workloads["websocket-agent"]["spec"]["template"]["metadata"].get("labels", {})
        for var in (STORE_ENV, BUS_ENV):
            url = urlsplit(agent["env"].get(var, ""))
            if url.scheme not in DEFAULT_PORTS:
                continue
            where = f"k8s websocket-agent {var}"
            host, port = url.hostname or "", str(url.port or DEFAULT_PORTS[url.scheme])
            service = host.split(".")[0]
            if not R.check(service in services, where, f"{host!r}: no Service {service!r} in k8s/"):
                continue
            if "." in host:
                R.check(host.split(".")[1] == namespace, where, f"{host!r} is not in namespace {namespace!r}")
            has_port = R.check(port in service_ports[service], where, f"Service {service} has no port {port}")
            if not has_port or service not in service_workload:
                continue
            backend = service_workload[service]
            target = str(service_ports[service][port].get("targetPort", port))
            named = container_ports.get(backend, {})
            ports = {target, named.get(target, target)} | {n for n, v in named.items() if v == target}
            labels = workloads[backend]["spec"]["template"]["metadata"].get("labels", {})
            R.check(_allows(policies, agent_labels, "egress", labels, ports) is not False, where,
                    f"no NetworkPolicy egress rule lets the agent reach {backend} on {sorted(ports)}")
            R.check(_allows(policies, labels, "ingress", agent_labels, ports) is not False, where,
                    f"no NetworkPolicy ingress rule lets {backend} accept the agent on {sorted(ports)}")
            if url.scheme != "redis" and backend in third_party:
                pg = third_party[backend]
                # The password is a Secret's: compared by reference below.
                check_postgres_credentials(url, pg["env"], where, f"{workloads[backend]['kind']} {backend}",
                                           parts=("user", "database"))
                if not url.password:
                    # No password in the URL: PGPASSWORD, from the Secret the database
                    # takes its own password from.
                    refs = {item["name"]: item.get("valueFrom", {}).get("secretKeyRef")
                            for item in pg["container"].get("env", [])}
                    agent_refs = {item["name"]: item.get("valueFrom", {}).get("secretKeyRef")
                                  for c in workloads["websocket-agent"]["spec"]["template"]["spec"]["containers"]
                                  for item in c.get("env", [])}
                    want, have = refs.get("POSTGRES_PASSWORD"), agent_refs.get("PGPASSWORD")
                    R.check(bool(want) and bool(have) and (want["name"], want["key"]) == (have["name"], have["key"]),
                            where, f"PGPASSWORD from {have and (have['name'], have['key'])}, but {backend} "
                            f"takes POSTGRES_PASSWORD from {want and (want['name'], want['key'])}")
    check_shared_sessions([r for r in runs if r["binary"] == "server"], "k8s")

    for name, hpa in by_kind.get("HorizontalPodAutoscaler", {}).items():
        ref = hpa["spec"]["scaleTargetRef"]
        dep = deployments.get(ref["name"])
        if R.check(ref["kind"] == "Deployment" and dep is not None, f"HPA {name}", f"scales {ref}, not a Deployment here"):
            cpu_metric = any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", []))
            requests = all("cpu" in c.get("resources", {}).get("requests", {})
                           for c in dep["spec"]["template"]["spec"]["containers"])
            R.check(cpu_metric and requests, f"HPA {name}", "CPU utilisation needs a CPU metric and CPU requests")
    for name, pdb in by_kind.get("PodDisruptionBudget", {}).items():
        selector = pdb["spec"]["selector"].get("matchLabels", {})
        matched = [d for d, dep in workloads.items()
                   if _matches(selector, dep["spec"]["template"]["metadata"].get("labels", {}))]
        if R.check(len(matched) == 1, f"PDB {name}", f"selector {selector} matches {matched}"):
            hpa_min = min((h["spec"].get("minReplicas", 1) for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
                           if h["spec"]["scaleTargetRef"]["name"] == matched[0]), default=None)
            replicas = hpa_min or workloads[matched[0]]["spec"].get("replicas", 1)
            R.check(int(pdb["spec"].get("minAvailable", 0)) < replicas, f"PDB {name}",
                    f"minAvailable must be below the {replicas} replicas, or no node could ever be drained")
    for name, ing in by_kind.get("Ingress", {}).items():
        notes = ing["metadata"].get("annotations", {})
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            value = notes.get(f"nginx.ingress.kubernetes.io/{key}", "0")
            R.check(value.isdigit() and int(value) >= 3600, f"Ingress {name}",
                    f"nginx.ingress.kubernetes.io/{key} is {value!r}: WebSockets need long timeouts (>= 3600)")
        R.check(bool(ing["spec"].get("tls")), f"Ingress {name}", "no tls section (example should show TLS)")
        # Agents that share sessions (PostgreSQL and Redis) need no affinity, and
        # affinity would only unbalance the pods and hide a failing resume elsewhere.
        if agent and store_kind(agent["env"].get(STORE_ENV, "")) == "postgres" and agent["env"].get(BUS_ENV):
            pinned = [k for k in AFFINITY_ANNOTATIONS if k in notes]
            R.check(not pinned, f"Ingress {name}",
                    f"{pinned}: any agent pod serves any session, drop the affinity")
        routes = []
        for rule in ing["spec"].get("rules", []):
            for p in rule.get("http", {}).get("paths", []):
                backend = p["backend"]["service"]
                port = backend["port"].get("name") or str(backend["port"].get("number"))
                R.check(port in service_ports.get(backend["name"], {}), f"Ingress {name}",
                        f"backend {backend['name']}:{port} is not a Service port")
                routes.append((p["path"], p["pathType"]))
        for run in runs:
            if run["service"] in {b["backend"]["service"]["name"] for r in ing["spec"].get("rules", [])
                                  for b in r.get("http", {}).get("paths", [])}:
                run.setdefault("ingress_routes", []).extend(routes)
        # What browsers load must be routed; what is internal must not be.
        for path in ui_paths():
            R.check(_routed(path, routes), f"Ingress {name}", f"{path} is not routed (the UI needs it)")
        for path in INTERNAL_PATHS:
            R.check(not _routed(path, routes), f"Ingress {name}", f"{path} is routed: keep it inside the cluster")
    for name, policy in by_kind.get("NetworkPolicy", {}).items():
        selector = policy["spec"]["podSelector"].get("matchLabels", {})
        matched = [d for d, dep in workloads.items()
                   if _matches(selector, dep["spec"]["template"]["metadata"].get("labels", {}))]
        R.check(len(matched) == 1, f"NetworkPolicy {name}", f"podSelector {selector} matches {matched}")
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                sel = peer.get("podSelector", {}).get("matchLabels")
                # Peers in other namespaces (an Ingress controller, Prometheus) are
                # the cluster's, not in k8s/: only same-namespace pods can be checked.
                if sel is not None and "namespaceSelector" not in peer:
                    R.check(any(_matches(sel, d["spec"]["template"]["metadata"].get("labels", {}))
                                for d in workloads.values()), f"NetworkPolicy {name}", f"from {sel} matches no pods")
            for p in rule.get("ports", []):
                if matched:
                    ports = container_ports.get(matched[0], {})
                    R.check(str(p["port"]) in ports or str(p["port"]) in ports.values(),
                            f"NetworkPolicy {name}", f"port {p['port']!r} is not a port of {matched[0]}")
        # Egress to pods of this namespace: they exist, and listen on the ports allowed.
        for rule in policy["spec"].get("egress", []):
            peers = [d for peer in rule.get("to", [])
                     if "namespaceSelector" not in peer and "ipBlock" not in peer
                     for d, dep in workloads.items()
                     if _matches(peer.get("podSelector", {}).get("matchLabels", {}),
                                 dep["spec"]["template"]["metadata"].get("labels", {}))]
            for peer in rule.get("to", []):
                sel = peer.get("podSelector", {}).get("matchLabels")
                if sel is not None and "namespaceSelector" not in peer:
                    R.check(any(_matches(sel, d["spec"]["template"]["metadata"].get("labels", {}))
                                for d in workloads.values()), f"NetworkPolicy {name}", f"to {sel} matches no pods")
            for p in rule.get("ports", []):
                for peer in peers:
                    ports = container_ports.get(peer, {})
                    R.check(str(p["port"]) in ports or str(p["port"]) in ports.values(),
                            f"NetworkPolicy {name}", f"egress port {p['port']!r} is not a port of {peer}")
    return runs


def _allows(policies: list[dict], subject: dict, direction: str, peer: dict, ports: set[str]) -> bool | None:
    """Whether the NetworkPolicies selecting pods labelled `subject` allow `direction`
    ("ingress" or "egress") traffic with same-namespace pods labelled `peer` on one of
    `ports` (names or numbers); None when no policy restricts that direction."""
    relevant = [p for p in policies if _matches(p["spec"]["podSelector"].get("matchLabels", {}), subject)
                and direction.capitalize() in p["spec"].get("policyTypes", ["Ingress"])]
    if not relevant:
        return None
    side = "from" if direction == "ingress" else "to"
    for policy in relevant:
        for rule in policy["spec"].get(direction, []):
            peers = rule.get(side)
            peer_ok = not peers or any(
                "namespaceSelector" not in p and "ipBlock" not in p
                and _matches(p.get("podSelector", {}).get("matchLabels", {}), peer) for p in peers)
            port_ok = not rule.get("ports") or any(str(p.get("port")) in ports for p in rule["ports"])
            if peer_ok and port_ok:
                return True
    return False


def ui_paths() -> list[str]:
    """The page, its WebSocket, its files (cargo-leptos: `assets-dir` copied to the site
    root, the WASM/JS/CSS under `site-pkg-dir`)."""
    leptos = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["metadata"]["leptos"][0]
    output, pkg = leptos["name"], leptos.get("site-pkg-dir", "pkg")
    paths = ["/", "/ws"] + [f"/{pkg}/{output}.{ext}" for ext in ("js", "wasm", "css")]
    assets = ROOT / leptos.get("assets-dir", "public")
    paths += sorted(f"/{f.relative_to(assets)}" for f in assets.rglob("*") if f.is_file())
    return paths


def _routed(path: str, routes: list[tuple[str, str]]) -> bool:
    """Ingress path matching: Exact, or Prefix by whole path elements."""
    for route, kind in routes:
        if kind == "Exact" and path == route:
            return True
        if kind in ("Prefix", "ImplementationSpecific"):
            prefix = route.rstrip("/")
            if prefix == "" or path == prefix or path.startswith(prefix + "/"):
                return True
    return False


# --- running the binaries ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method: str, port: int, path: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 5) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_status(port: int, path: str) -> int:
    try:
        return request("GET", port, path)[0]
    except OSError:
        return 0


def wait_for(port: int, path: str, want: int, seconds: float, process: "Process | None" = None) -> int:
    """Polls until `path` answers `want`, the time is up, or the process has exited."""
    deadline, status = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        status = get_status(port, path)
        if status == want or (process and process.proc.poll() is not None):
            break
        time.sleep(0.1)
    return status


class Process:
    """A binary started for the checks, stopped (SIGTERM, then SIGKILL) at the end."""

    def __init__(self, binary: Binary, env: dict[str, str], logdir: Path, label: str) -> None:
        self.label, self.log = label, logdir / f"{label}.log"
        self.proc = subprocess.Popen([str(binary.path)], env=env, cwd=ROOT, stdout=self.log.open("w"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()[-8:]
        return "\n".join(f"      | {line}" for line in lines)


def run_env(binary: Binary, run: dict, port: int) -> dict[str, str]:
    """The deployment's environment for this binary, bound to loopback on a free port.
    Names the binary does not read yet are left out (their values cannot be tested)."""
    env = _base_env() | {k: v for k, v in run["env"].items() if binary.accepts(k)}
    env.update(PORT=str(port), HOST="127.0.0.1")
    return env


def check_live(binaries: dict[str, Binary], runs: list[dict], logdir: Path, site: Path) -> None:
    """Starts each deployment's toolbox and server with that deployment's environment
    and asks every path its probes and healthchecks use. Each distinct server
    environment (compose: the default agent and the `scale` replicas) runs once."""
    toolboxes: dict[str, dict] = {}
    servers: dict[str, list[dict]] = {}
    for run in runs:
        kind = "compose" if run["where"].startswith("compose") else "k8s"
        if run["binary"] == "toolbox":
            toolboxes.setdefault(kind, run)
        elif all(other["env"] != run["env"] for other in servers.setdefault(kind, [])):
            servers[kind].append(run)
    for kind, sv_run in [(kind, run) for kind in sorted(servers) for run in servers[kind]]:
        if kind not in toolboxes:
            continue
        label = f"{kind} {sv_run['service']}"
        section(f"live: {label} environment, real binaries on loopback")
        processes: list[Process] = []
        try:
            tb_run, pair = toolboxes[kind], {"toolbox": toolboxes[kind], "server": sv_run}
            tb, sv = binaries["toolbox"], binaries["server"]
            tb_port, sv_port = free_port(), free_port()
            server_env = run_env(sv, sv_run, sv_port)
            mcp_url = server_env.get("MCP_SERVER_URL", "")
            # The server reaches the toolbox on loopback instead of its service name;
            # the name itself is tested below with the Host header the server would send.
            server_env["MCP_SERVER_URL"] = f"http://127.0.0.1:{tb_port}"
            # No PostgreSQL or Redis here: the store is a SQLite file of this run, and
            # the server runs alone. (Their URLs were checked above against the
            # services that provide them.)
            store = logdir / f"{kind}-{sv_run['service']}.db"
            server_env[STORE_ENV] = f"sqlite://{store}"
            server_env.pop(BUS_ENV, None)
            if site.is_dir():
                server_env["LEPTOS_SITE_ROOT"] = str(site)
            else:
                server_env.pop("LEPTOS_SITE_ROOT", None)
                R.note(f"{site} not built: UI files not checked")
            # Server first: /readyz must say 503 while the toolbox is not there.
            server = Process(sv, server_env, logdir, f"{kind}-{sv_run['service']}")
            processes.append(server)
            status = wait_for(sv_port, "/healthz", 200, 15, server)
            if not R.check(status == 200, f"{label} /healthz", f"{status} (log below)\n{server.tail()}"):
                continue
            R.check(store.is_file(), f"{label} {STORE_ENV}", f"sqlite://{store} not created at start")
            R.check(get_status(sv_port, "/readyz") == 503, f"{label} /readyz",
                    "should be 503 while the toolbox is unreachable")

            toolbox_env = run_env(tb, tb_run, tb_port)
            hosts = toolbox_env.get("MCP_ALLOWED_HOSTS", "")
            toolbox_env["MCP_ALLOWED_HOSTS"] = ",".join(filter(None, [hosts, "127.0.0.1"]))
            toolbox = Process(tb, toolbox_env, logdir, f"{kind}-{sv_run['service']}-toolbox")
            processes.append(toolbox)
            status = wait_for(tb_port, "/healthz", 200, 15, toolbox)
            if not R.check(status == 200, f"{label} toolbox /healthz", f"{status} (log below)\n{toolbox.tail()}"):
                continue
            for path in sorted(set(tb_run.get("paths", [])) | {HEALTHCHECK_PATH, "/health"}):
                status = get_status(tb_port, path)
                R.check(status == 200, f"{label} toolbox GET {path}", f"answered {status}")
            status = wait_for(sv_port, "/readyz", 200, 15, server)
            R.check(status == 200, f"{label} /readyz", f"{status} once the toolbox is up\n{server.tail()}")
            # (Before the Host checks below, whose `initialize` opens a session itself.)
            # An agent that opened a 2025-11-25 session (rmcp logs "create new session")
            # must keep reaching the replica holding it: with several toolbox replicas
            # behind a Service, a new TCP connection may reach another one, which answers
            # 404 for the unknown session. 2026-07-28 stateless clients need nothing.
            toolbox_log = toolbox.log.read_text(errors="replace")
            if "toolbox listening" not in toolbox_log:
                R.note(f"{label}: the toolbox's LOG_LEVEL hides info logs: cannot tell whether "
                       "the agent holds an MCP session")
            elif "create new session" in toolbox_log:
                if R.check(tb_run.get("sticky") is not None, f"{label} mcp-server replicas",
                           "the agent's MCP client uses sessions: pin it to one toolbox replica "
                           "(Service sessionAffinity: ClientIP) or run a single replica"):
                    R.note(f"{label}: the agent holds an MCP session; kept by {tb_run['sticky']}")
            else:
                R.note(f"{label}: the agent's MCP client is stateless; any toolbox replica can serve it")
            # The Host header the agent sends (its MCP_SERVER_URL) passes the toolbox's
            # DNS-rebinding guard, and the guard is on (a foreign host is refused).
            url = urlsplit(mcp_url)
            for host, want in ((url.netloc, 200), ("attacker.example:8000", 403)):
                status = mcp_initialize(tb_port, host)
                R.check(status == want, f"{label} toolbox POST /mcp with Host {host}",
                        f"answered {status}, want {want} (MCP_ALLOWED_HOSTS={hosts!r})")

            for path in sorted(set(sv_run.get("paths", [])) | {HEALTHCHECK_PATH, "/health", "/"}):
                status = get_status(sv_port, path)
                R.check(status == 200, f"{label} GET {path}", f"answered {status}")
            # Every REST path the server documents (OpenAPI) is routed by the Ingress.
            if sv_run.get("ingress_routes"):
                try:
                    status, body = request("GET", sv_port, "/api/openapi.json")
                except OSError:
                    status, body = 0, b""
                if status == 200:
                    for path in json.loads(body).get("paths", {}):
                        R.check(_routed(path, sv_run["ingress_routes"]), f"{label} Ingress",
                                f"{path} (in /api/openapi.json) is not routed")
                else:
                    R.note(f"{label}: no /api/openapi.json ({status}): REST paths not checked against the Ingress")
            if site.is_dir():
                for path in ("/pkg/toolstream.wasm", "/pkg/toolstream.js", "/pkg/toolstream.css", "/favicon.svg"):
                    status = get_status(sv_port, path)
                    R.check(status == 200, f"{label} GET {path}", f"answered {status} (LEPTOS_SITE_ROOT layout)")

            # The images' HEALTHCHECK command, as Docker runs it: exit 0 when healthy,
            # and not 0 when nothing answers on PORT.
            for binary, port in ((tb, tb_port), (sv, sv_port)):
                for target_port, want in ((port, 0), (free_port(), 1)):
                    env = (dict(server_env, PORT=str(target_port)) if binary is sv
                           else run_env(binary, pair[binary.name], target_port))
                    code = subprocess.run([str(binary.path), "--healthcheck"], env=env, timeout=30,
                                          capture_output=True).returncode
                    R.check(code == want, f"{label} `{binary.name} --healthcheck`",
                            f"exit {code} on {'a live' if want == 0 else 'a dead'} port, want {want}")
            for process in processes:
                R.check(process.proc.poll() is None, f"{label} {process.label}",
                        f"exited early\n{process.tail()}")
        finally:
            for process in reversed(processes):
                process.stop()


def mcp_initialize(port: int, host: str) -> int:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "deploy-check", "version": "0"}}}).encode()
    headers = {"Host": host, "Content-Type": "application/json",
               "Accept": "application/json, text/event-stream"}
    try:
        return request("POST", port, "/mcp", body, headers)[0]
    except OSError:
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", type=Path, default=ROOT / "target/release/server")
    parser.add_argument("--toolbox", type=Path, default=ROOT / "target/release/toolbox")
    parser.add_argument("--site", type=Path, default=ROOT / "target/site")
    options = parser.parse_args()
    for path in (options.server, options.toolbox):
        if not os.access(path, os.X_OK):
            sys.exit(f"deploy_check: {path} is not built (cargo build --release -p server -p toolbox)")
    binaries = {"server": Binary.load("server", options.server),
                "toolbox": Binary.load("toolbox", options.toolbox)}
    for b in binaries.values():
        print(f"{b.name}: reads {', '.join(sorted(b.env))}")

    targets = check_dockerfile(binaries)
    runs = check_compose(binaries, targets) + check_kubernetes(binaries, targets)
    with tempfile.TemporaryDirectory(prefix="deploy-check-") as logdir:
        check_live(binaries, runs, Path(logdir), options.site.resolve())

    if R.problems:
        print(f"\n{len(R.problems)} deployment problem(s), {R.passed} checks passed:")
        for line in R.problems:
            print(f"  - {line.splitlines()[0]}")
        return 1
    print(f"deployment files agree with the binaries: {R.passed} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
