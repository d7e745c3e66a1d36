"""Turns the JSON lines of scripts/bench.sh into the Markdown table of BENCHMARKS.md,
with each target checked against the measured numbers."""

import json
import sys

if sys.argv[1] == "--record":
    # One run: label the loadgen's JSON line, show a summary, print the line to keep.
    result = json.loads(sys.argv[3])
    result["label"] = sys.argv[2]
    print(f" {result.get('per_sec', 0):>8.0f}/s  p50 {result.get('p50_us', 0) / 1000:.2f} ms  "
          f"p99 {result.get('p99_us', 0) / 1000:.2f} ms  errors {result.get('errors')}", file=sys.stderr)
    print(json.dumps(result))
    sys.exit(0)

rows = {}
with open(sys.argv[1]) as lines:
    for line in lines:
        result = json.loads(line)
        rows[result["label"]] = result


def ms(us):
    return f"{us / 1000:.2f}"


print("| scenario | completed | errors | per second | p50 ms | p90 ms | p99 ms | max ms | notes |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
for label, r in rows.items():
    if label == "warm-up":
        continue
    notes = []
    if "kib_per_connection" in r:
        notes.append(f"{r['kib_per_connection']} KiB RSS per connection "
                     f"({r['server_rss_before_kib'] // 1024} → {r['server_rss_after_kib'] // 1024} MiB); "
                     f"still serving: {r['still_serving']}")
    elif r.get("server_rss_after_kib"):
        notes.append(f"server RSS {r['server_rss_before_kib'] // 1024} → {r['server_rss_after_kib'] // 1024} MiB")
    latency = [ms(r[k]) if k in r else "–" for k in ("p50_us", "p90_us", "p99_us", "max_us")]
    print(f"| {label} | {r['completed']} | {r['errors']} | {r['per_sec']:.0f} | "
          + " | ".join(latency) + f" | {'; '.join(notes)} |")

echo = rows.get("echo round trip (baseline)", {})
single = rows.get("1 client, sequential turns", {})
fifty = rows.get("50 clients", {})
two_hundred = rows.get("200 clients, 10 turns/s each", {})
thousand = rows.get("1,000 active clients", {})
idle = rows.get("10,000 idle connections", {})
toolbox = rows.get("toolbox tools/call, 50 clients", {})
ratio = single.get("p50_us", 0) / max(echo.get("p50_us", 1), 1)

targets = [
    ("≥ 2,000 turns/s at 50 clients", f"{fifty.get('per_sec', 0):.0f} turns/s", fifty.get("per_sec", 0) >= 2000),
    ("p99 ≤ 10 ms at 200 clients (each sending 10 turns/s: 2,000 turns/s offered)",
     f"{ms(two_hundred.get('p99_us', 0))} ms", two_hundred.get("p99_us", 1e9) <= 10_000),
    ("1,000 active clients, zero errors", f"{thousand.get('errors')} errors, {thousand.get('completed')} turns",
     thousand.get("errors") == 0 and thousand.get("completed", 0) > 0),
    ("one turn ≤ 3× the echo round trip (p50)",
     f"{ms(single.get('p50_us', 0))} ms vs {ms(echo.get('p50_us', 0))} ms = {ratio:.1f}×", ratio <= 3),
    ("10,000 idle connections ≤ 20 KiB RSS each", f"{idle.get('kib_per_connection')} KiB",
     idle.get("completed") == 10000 and idle.get("kib_per_connection", 1e9) <= 20),
    ("toolbox ≥ 20,000 tools/call per second", f"{toolbox.get('per_sec', 0):.0f}/s", toolbox.get("per_sec", 0) >= 20000),
]
print()
print("| target | measured | met |")
print("|---|---|---|")
for target, measured, met in targets:
    print(f"| {target} | {measured} | {'yes' if met else 'no'} |")
