#!/usr/bin/env python3
"""Checks that the deployment files agree with the binaries they deploy.

The schema validators (run by scripts/validate-deploy.sh) only know whether a file is
well formed. This checks what they cannot: that every environment variable the
Dockerfile, docker-compose.yml, .env.example and k8s/ set is one the binaries read;
that every port is the one the binary listens on; that names referenced across files
(Dockerfile targets, Services, ConfigMaps, selectors, probe ports) exist; and, by
starting the real binaries, that every probe and healthcheck answers as the
deployment expects.

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
from pathlib import Path
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
LIBRARY_ENV = {
    "server": COMMON_LIBRARY_ENV | AWS_ENV | LEPTOS_ENV,
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
# Paths that stay inside the cluster: not routed by the Ingress.
INTERNAL_PATHS = ["/metrics", "/healthz", "/readyz", "/health", "/mcp"]
# Where the build tools' versions are pinned (xtask and scripts/lib.sh read them there).
SITE_TOOLS = "[workspace.metadata.site-tools] in Cargo.toml"
# Paths the HEALTHCHECK (`--healthcheck`) probes, besides those in the manifests.
HEALTHCHECK_PATH = "/healthz"


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


def target_of(stages: dict[str, Stage], name: str) -> Target:
    t = Target(name, {}, None, [], [], [], [])
    for stage in stage_chain(stages, name):
        for keyword, rest in stage.instructions:
            if keyword == "ENV":
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
    return targets


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
    compose = yaml.safe_load(interpolate((ROOT / "docker-compose.yml").read_text(), dotenv, missing))
    R.check(not missing, "docker-compose.yml interpolation",
            f"{sorted(missing)} have no default and are not in .env.example")
    services = compose.get("services", {})
    R.check(set(services) >= {"mcp-server", "websocket-agent"}, "docker-compose.yml services",
            f"{sorted(services)}: the design names `mcp-server` and `websocket-agent`")
    runs = []
    for name, svc in services.items():
        where = f"compose service {name}"
        target = (svc.get("build") or {}).get("target")
        if not R.check(target in targets, where, f"build.target {target!r} is not a Dockerfile target"):
            continue
        binary, image = binaries[target], targets[target]
        own: dict[str, str] = {}
        for entry in _env_files(svc):
            # `.env` is not committed: it is copied from .env.example.
            source = ".env.example" if Path(entry).name == ".env" else entry
            active, shown = read_env_file(ROOT / source)
            own.update(active)
            # Commented-out settings must be real names too: users uncomment them.
            check_env(binary, {var: "example" for var in shown - set(active)}, f"{source} (commented)")
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
        replicas = max(int((svc.get("deploy") or {}).get("replicas", 1)), int(svc.get("scale", 1)))
        runs.append({"where": where, "binary": target, "env": env, "service": name,
                     "sticky": "one replica" if replicas == 1 else None})

    agent, toolbox = services.get("websocket-agent", {}), services.get("mcp-server", {})
    R.check([str(p) for p in agent.get("ports", [])] == ["8002:8000"], "compose websocket-agent ports",
            f"{agent.get('ports')}: the design publishes it as 8002:8000")
    R.check(not toolbox.get("ports"), "compose mcp-server ports",
            "the toolbox is internal: `expose`, not `ports`")
    condition = ((agent.get("depends_on") or {}).get("mcp-server") or {}).get("condition")
    R.check(condition == "service_healthy", "compose websocket-agent depends_on",
            f"mcp-server condition {condition!r}, want service_healthy")
    agent_run = next((r for r in runs if r["service"] == "websocket-agent"), None)
    toolbox_run = next((r for r in runs if r["service"] == "mcp-server"), None)
    if agent_run and toolbox_run:
        check_mcp_url(agent_run["env"].get("MCP_SERVER_URL", ""), "compose websocket-agent",
                      services={"mcp-server": effective_port(binaries["toolbox"], toolbox_run["env"])},
                      allowed_hosts=toolbox_run["env"].get("MCP_ALLOWED_HOSTS", ""))
        agent_names = set(agent_run["env"]) | commented
        R.check(CONTRACT_AGENT_ENV <= agent_names, "compose websocket-agent environment",
                f"missing the design's {sorted(CONTRACT_AGENT_ENV - agent_names)}")
        R.check(agent_run["env"].get("MCP_SERVER_URL") == "http://mcp-server:8000",
                "compose websocket-agent MCP_SERVER_URL", "the design sets http://mcp-server:8000")
    return runs


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

    runs, container_ports = [], {}
    for dep_name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        labels = dep["spec"]["template"]["metadata"].get("labels", {})
        R.check(_matches(dep["spec"]["selector"].get("matchLabels", {}), labels),
                f"Deployment {dep_name}", "selector does not match the pod template's labels")
        pod_sc = pod.get("securityContext", {})
        for c in pod["containers"]:
            where = f"Deployment {dep_name} container {c['name']}"
            sc = c.get("securityContext", {})
            target = c["image"].rsplit("/", 1)[-1].split(":")[0].split("@")[0]
            if not R.check(target in targets, f"{where} image",
                           f"{c['image']!r}: its name should be a Dockerfile target {sorted(targets)}"):
                continue
            binary, image = binaries[target], targets[target]
            # Security: what the Pod Security "restricted" profile asks, plus a read-only root.
            R.check(sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where, "runAsNonRoot must be true")
            uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
            R.check(uid is not None and str(uid) == (image.user or "").split(":")[0], where,
                    f"runAsUser {uid} differs from the image's USER {image.user}")
            R.check(sc.get("readOnlyRootFilesystem") is True, where, "readOnlyRootFilesystem must be true")
            R.check(sc.get("allowPrivilegeEscalation") is False, where, "allowPrivilegeEscalation must be false")
            R.check(sc.get("capabilities", {}).get("drop") == ["ALL"], where, "capabilities must drop ALL")
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {})).get("type")
            R.check(seccomp == "RuntimeDefault", where, f"seccompProfile {seccomp!r}, want RuntimeDefault")
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                R.check({"cpu", "memory"} <= set(res.get(kind, {})), where, f"resources.{kind} needs cpu and memory")
            # Environment: explicit env, then envFrom ConfigMaps/Secrets.
            env = dict(image.env)
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
            check_env(binary, own, where)
            env.update(own)
            check_parses(binary, env, where)
            port = effective_port(binary, env)
            named = {p.get("name"): str(p["containerPort"]) for p in c.get("ports", [])}
            R.check(list(named.values()) == [port], f"{where} containerPort",
                    f"{list(named.values())}: `{target}` listens on PORT {port}")
            container_ports[dep_name] = named
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
            want = {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
            for probe, path in paths:
                if probe in want:
                    R.check(path == want[probe], f"{where} {probe}", f"path {path!r}, want {want[probe]}")
            runs.append({"where": where, "binary": target, "env": env, "service": dep_name,
                         "paths": sorted({p for _, p in paths})})

    # Services select pods and reach a named or numbered container port.
    service_ports = {}
    for name, svc in services.items():
        selector = svc["spec"].get("selector", {})
        matched = [d for d, dep in deployments.items()
                   if _matches(selector, dep["spec"]["template"]["metadata"].get("labels", {}))]
        R.check(len(matched) == 1, f"Service {name}", f"selector {selector} matches {matched}")
        for p in svc["spec"]["ports"]:
            if matched:
                target = str(p.get("targetPort", p["port"]))
                ports = container_ports.get(matched[0], {})
                R.check(target in ports or target in ports.values(), f"Service {name} port {p['port']}",
                        f"targetPort {target!r} is not a port of Deployment {matched[0]}")
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
        matched = [d for d, dep in deployments.items()
                   if _matches(selector, dep["spec"]["template"]["metadata"].get("labels", {}))]
        if R.check(len(matched) == 1, f"PDB {name}", f"selector {selector} matches {matched}"):
            hpa_min = min((h["spec"].get("minReplicas", 1) for h in by_kind.get("HorizontalPodAutoscaler", {}).values()
                           if h["spec"]["scaleTargetRef"]["name"] == matched[0]), default=None)
            replicas = hpa_min or deployments[matched[0]]["spec"].get("replicas", 1)
            R.check(int(pdb["spec"].get("minAvailable", 0)) < replicas, f"PDB {name}",
                    f"minAvailable must be below the {replicas} replicas, or no node could ever be drained")
    for name, ing in by_kind.get("Ingress", {}).items():
        notes = ing["metadata"].get("annotations", {})
        for key in ("proxy-read-timeout", "proxy-send-timeout"):
            value = notes.get(f"nginx.ingress.kubernetes.io/{key}", "0")
            R.check(value.isdigit() and int(value) >= 3600, f"Ingress {name}",
                    f"nginx.ingress.kubernetes.io/{key} is {value!r}: WebSockets need long timeouts (>= 3600)")
        R.check(bool(ing["spec"].get("tls")), f"Ingress {name}", "no tls section (example should show TLS)")
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
        matched = [d for d, dep in deployments.items()
                   if _matches(selector, dep["spec"]["template"]["metadata"].get("labels", {}))]
        R.check(len(matched) == 1, f"NetworkPolicy {name}", f"podSelector {selector} matches {matched}")
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                sel = peer.get("podSelector", {}).get("matchLabels")
                if sel is not None:
                    R.check(any(_matches(sel, d["spec"]["template"]["metadata"].get("labels", {}))
                                for d in deployments.values()), f"NetworkPolicy {name}", f"from {sel} matches no pods")
            for p in rule.get("ports", []):
                if matched:
                    ports = container_ports.get(matched[0], {})
                    R.check(str(p["port"]) in ports or str(p["port"]) in ports.values(),
                            f"NetworkPolicy {name}", f"port {p['port']!r} is not a port of {matched[0]}")
    return runs


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
    and asks every path its probes and healthchecks use."""
    by_deployment: dict[str, dict[str, dict]] = {}
    for run in runs:
        kind = "compose" if run["where"].startswith("compose") else "k8s"
        by_deployment.setdefault(kind, {})[run["binary"]] = run
    for kind, pair in sorted(by_deployment.items()):
        if set(pair) != {"server", "toolbox"}:
            continue
        section(f"live: {kind} environment, real binaries on loopback")
        processes: list[Process] = []
        try:
            tb_run, sv_run = pair["toolbox"], pair["server"]
            tb, sv = binaries["toolbox"], binaries["server"]
            tb_port, sv_port = free_port(), free_port()
            server_env = run_env(sv, sv_run, sv_port)
            mcp_url = server_env.get("MCP_SERVER_URL", "")
            # The server reaches the toolbox on loopback instead of its service name;
            # the name itself is tested below with the Host header the server would send.
            server_env["MCP_SERVER_URL"] = f"http://127.0.0.1:{tb_port}"
            if site.is_dir():
                server_env["LEPTOS_SITE_ROOT"] = str(site)
            else:
                server_env.pop("LEPTOS_SITE_ROOT", None)
                R.note(f"{site} not built: UI files not checked")
            # Server first: /readyz must say 503 while the toolbox is not there.
            server = Process(sv, server_env, logdir, f"{kind}-server")
            processes.append(server)
            status = wait_for(sv_port, "/healthz", 200, 15, server)
            if not R.check(status == 200, f"{kind} server /healthz", f"{status} (log below)\n{server.tail()}"):
                continue
            R.check(get_status(sv_port, "/readyz") == 503, f"{kind} server /readyz",
                    "should be 503 while the toolbox is unreachable")

            toolbox_env = run_env(tb, tb_run, tb_port)
            hosts = toolbox_env.get("MCP_ALLOWED_HOSTS", "")
            toolbox_env["MCP_ALLOWED_HOSTS"] = ",".join(filter(None, [hosts, "127.0.0.1"]))
            toolbox = Process(tb, toolbox_env, logdir, f"{kind}-toolbox")
            processes.append(toolbox)
            status = wait_for(tb_port, "/healthz", 200, 15, toolbox)
            if not R.check(status == 200, f"{kind} toolbox /healthz", f"{status} (log below)\n{toolbox.tail()}"):
                continue
            for path in sorted(set(tb_run.get("paths", [])) | {HEALTHCHECK_PATH, "/health"}):
                status = get_status(tb_port, path)
                R.check(status == 200, f"{kind} toolbox GET {path}", f"answered {status}")
            status = wait_for(sv_port, "/readyz", 200, 15, server)
            R.check(status == 200, f"{kind} server /readyz", f"{status} once the toolbox is up\n{server.tail()}")
            # (Before the Host checks below, whose `initialize` opens a session itself.)
            # An agent that opened a 2025-11-25 session (rmcp logs "create new session")
            # must keep reaching the replica holding it: with several toolbox replicas
            # behind a Service, a new TCP connection may reach another one, which answers
            # 404 for the unknown session. 2026-07-28 stateless clients need nothing.
            toolbox_log = toolbox.log.read_text(errors="replace")
            if "toolbox listening" not in toolbox_log:
                R.note(f"{kind}: the toolbox's LOG_LEVEL hides info logs: cannot tell whether "
                       "the agent holds an MCP session")
            elif "create new session" in toolbox_log:
                if R.check(tb_run.get("sticky") is not None, f"{kind} mcp-server replicas",
                           "the agent's MCP client uses sessions: pin it to one toolbox replica "
                           "(Service sessionAffinity: ClientIP) or run a single replica"):
                    R.note(f"{kind}: the agent holds an MCP session; kept by {tb_run['sticky']}")
            else:
                R.note(f"{kind}: the agent's MCP client is stateless; any toolbox replica can serve it")
            # The Host header the agent sends (its MCP_SERVER_URL) passes the toolbox's
            # DNS-rebinding guard, and the guard is on (a foreign host is refused).
            url = urlsplit(mcp_url)
            for host, want in ((url.netloc, 200), ("attacker.example:8000", 403)):
                status = mcp_initialize(tb_port, host)
                R.check(status == want, f"{kind} toolbox POST /mcp with Host {host}",
                        f"answered {status}, want {want} (MCP_ALLOWED_HOSTS={hosts!r})")

            for path in sorted(set(sv_run.get("paths", [])) | {HEALTHCHECK_PATH, "/health", "/"}):
                status = get_status(sv_port, path)
                R.check(status == 200, f"{kind} server GET {path}", f"answered {status}")
            # Every REST path the server documents (OpenAPI) is routed by the Ingress.
            if sv_run.get("ingress_routes"):
                try:
                    status, body = request("GET", sv_port, "/api/openapi.json")
                except OSError:
                    status, body = 0, b""
                if status == 200:
                    for path in json.loads(body).get("paths", {}):
                        R.check(_routed(path, sv_run["ingress_routes"]), f"{kind} Ingress",
                                f"{path} (in /api/openapi.json) is not routed")
                else:
                    R.note(f"{kind}: no /api/openapi.json ({status}): REST paths not checked against the Ingress")
            if site.is_dir():
                for path in ("/pkg/toolstream.wasm", "/pkg/toolstream.js", "/pkg/toolstream.css", "/favicon.svg"):
                    status = get_status(sv_port, path)
                    R.check(status == 200, f"{kind} server GET {path}", f"answered {status} (LEPTOS_SITE_ROOT layout)")

            # The images' HEALTHCHECK command, as Docker runs it: exit 0 when healthy,
            # and not 0 when nothing answers on PORT.
            for binary, port in ((tb, tb_port), (sv, sv_port)):
                for target_port, want in ((port, 0), (free_port(), 1)):
                    env = run_env(binary, pair[binary.name], target_port)
                    code = subprocess.run([str(binary.path), "--healthcheck"], env=env, timeout=30,
                                          capture_output=True).returncode
                    R.check(code == want, f"{kind} `{binary.name} --healthcheck`",
                            f"exit {code} on {'a live' if want == 0 else 'a dead'} port, want {want}")
            for process in processes:
                R.check(process.proc.poll() is None, f"{kind} {process.label}",
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
