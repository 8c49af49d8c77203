#!/usr/bin/env python3
"""The load comparison of issue 7, in one command:

    python3 scripts/bench-load.py                  # 3 rounds x 5 s per server
    python3 scripts/bench-load.py --rounds 5 --duration 10 --out docs/bench/results.json
    python3 scripts/bench-load.py --soak 600       # the memory-flatness run (10 minutes)

Builds benches/load (release), then for each round starts every server in turn — bare axum,
axum + keycard (two ways of layering it), axum + axum-jwt-auth, bare actix-web, actix-web + keycard, actix-web +
actix-web-httpauth — pinned to one core (taskset), and drives it with wrk pinned to another,
on loopback, with the same HS256 bearer token. The order of the servers rotates from one
round to the next, so that slow drifts of the machine's load spread over all of them.

Printed per server: the medians over the rounds of requests/s, p50 and p99 latency (wrk's),
server CPU time per request (utime + stime from /proc/<pid>/stat over the measured window),
and the median of the per-round ratios of requests/s to the bare server of the same
framework. The load average is printed before and after. Needs wrk (Debian:
`apt-get install -y wrk`), taskset (util-linux) and cargo. Only 127.0.0.1 is ever contacted.
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CRATE = os.path.join(ROOT, "benches", "load")
SERVERS = [
    ("axum-bare", "axum-bare"),
    ("axum-keycard", "axum-bare"),
    ("axum-keycard-sb", "axum-bare"),
    ("axum-peer", "axum-bare"),
    ("actix-bare", "actix-bare"),
    ("actix-keycard", "actix-bare"),
    ("actix-peer", "actix-bare"),
]
NOTES = {
    "axum-keycard": "AuthLayer and RequireLayer, one route_layer each (as the examples)",
    "axum-keycard-sb": "the same two layers in one route_layer(ServiceBuilder)",
}
PEERS = {
    "axum-peer": "axum-jwt-auth 0.7 (jsonwebtoken 10)",
    "actix-peer": "actix-web-httpauth 0.8 + jsonwebtoken 12 decode",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def die(msg):
    print(f"bench-load: {msg}", file=sys.stderr)
    sys.exit(1)


def build(target_dir):
    env = dict(os.environ, CARGO_TARGET_DIR=target_dir)
    print(f"building {CRATE} (release) into {target_dir} ...", flush=True)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--manifest-path", os.path.join(CRATE, "Cargo.toml")],
        check=True,
        env=env,
    )
    return os.path.join(target_dir, "release", "keycard-load-bench")


def wait_port(port, proc, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            die(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    die(f"server did not listen on {port}")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command: state(0) ... utime is field 14 of stat, i.e. index 11 here.
    return int(fields[11]) + int(fields[12])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_latency(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def run_wrk(args, url, token, duration, server_core, wrk_core):
    cmd = [
        "taskset", "-c", wrk_core, "wrk", "-t1", f"-c{args.connections}", f"-d{duration}s",
        "--latency", "-H", f"Authorization: Bearer {token}", url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": reqs,
        "rps": rps,
        "p50_ms": parse_latency(lat.get("50", "")),
        "p99_ms": parse_latency(lat.get("99", "")),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def one(args, binary, name, token, port):
    server = subprocess.Popen(
        ["taskset", "-c", args.server_core, binary, "serve", name, f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, server)
        url = f"http://127.0.0.1:{port}/"
        if args.warmup > 0:
            run_wrk(args, url, token, args.warmup, args.server_core, args.wrk_core)
        before = cpu_ticks(server.pid)
        r = run_wrk(args, url, token, args.duration, args.server_core, args.wrk_core)
        after = cpu_ticks(server.pid)
        r["cpu_us_per_req"] = (after - before) / CLK_TCK * 1e6 / max(r["requests"], 1)
        # Below 100 %: the server was not the bottleneck (wrk, or the machine's other load).
        r["server_cpu_pct"] = (after - before) / CLK_TCK / args.duration * 100
        r["rss_kib"] = rss_kib(server.pid)
        if r["non2xx"] or r["socket_errors"]:
            die(f"{name}: {r['non2xx']} non-2xx responses, socket errors {r['socket_errors']!r}")
        return r
    finally:
        server.terminate()
        server.wait()


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds measured per server and round")
    p.add_argument("--warmup", type=int, default=1, help="seconds of wrk before each measurement")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--server-core", default="0")
    p.add_argument("--wrk-core", default="1")
    p.add_argument("--port", type=int, default=18080)
    p.add_argument("--only", help="comma-separated server names (default: all six)")
    p.add_argument("--out", help="write the results as JSON here (e.g. docs/bench/results.json)")
    p.add_argument("--target-dir", default=os.environ.get("CARGO_TARGET_DIR", os.path.join(CRATE, "target")))
    p.add_argument("--binary", help="use this keycard-load-bench binary instead of building one")
    p.add_argument("--soak", type=int, metavar="SECONDS",
                   help="instead of the load comparison: login/refresh/request/logout cycles against "
                        "the in-memory stores for SECONDS, printing RSS every 10 s and its spread "
                        "after the first minute (target: within 10 %%)")
    args = p.parse_args()
    if args.soak:
        binary = args.binary or build(args.target_dir)
        print(f"soak: {args.soak} s on core {args.server_core}; load average {loadavg()}", flush=True)
        subprocess.run(["taskset", "-c", args.server_core, binary, "soak", str(args.soak)], check=True)
        print(f"load average after: {loadavg()}")
        return

    for tool in ("wrk", "taskset", "cargo"):
        if shutil.which(tool) is None and not (tool == "cargo" and args.binary):
            die(f"{tool} not found (wrk: apt-get install -y wrk)")
    binary = args.binary or build(args.target_dir)
    token = subprocess.run([binary, "token"], capture_output=True, text=True, check=True).stdout.strip()
    servers = [s for s in SERVERS if not args.only or s[0] in args.only.split(",")]
    load_before = loadavg()
    print(f"token: HS256, {len(token)} bytes; {args.rounds} rounds x {args.duration} s per server "
          f"(+{args.warmup} s warm-up), wrk -t1 -c{args.connections}; server on core {args.server_core}, "
          f"wrk on core {args.wrk_core}; load average {load_before}", flush=True)

    runs = {name: [] for name, _ in servers}
    for rnd in range(args.rounds):
        order = servers[rnd % len(servers):] + servers[: rnd % len(servers)]
        for name, _ in order:
            r = one(args, binary, name, token, args.port)
            r["round"] = rnd
            runs[name].append(r)
            print(f"  round {rnd + 1} {name:16s} {r['rps']:10.0f} req/s  p50 {r['p50_ms']:.3f} ms  "
                  f"p99 {r['p99_ms']:.3f} ms  {r['cpu_us_per_req']:.2f} us CPU/req", flush=True)
    load_after = loadavg()

    rows = []
    for name, base in servers:
        rs = runs[name]
        ratios = []
        if base in runs:
            by_round = {r["round"]: r["rps"] for r in runs[base]}
            ratios = [r["rps"] / by_round[r["round"]] for r in rs if r["round"] in by_round]
        rows.append({
            "server": name,
            "baseline": base,
            "peer": PEERS.get(name),
            "note": NOTES.get(name),
            "rps": med([r["rps"] for r in rs]),
            "p50_ms": med([r["p50_ms"] for r in rs]),
            "p99_ms": med([r["p99_ms"] for r in rs]),
            "cpu_us_per_req": med([r["cpu_us_per_req"] for r in rs]),
            "server_cpu_pct": med([r["server_cpu_pct"] for r in rs]),
            "ratio": med(ratios),
            "ratios": ratios,
            "runs": rs,
        })

    print()
    print(f"{'server':16s} {'req/s':>10s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU us/req':>11s} "
          f"{'server CPU':>10s} {'x bare':>7s}")
    for row in rows:
        print(f"{row['server']:16s} {row['rps']:10.0f} {row['p50_ms']:8.3f} {row['p99_ms']:8.3f} "
              f"{row['cpu_us_per_req']:11.2f} {row['server_cpu_pct']:9.0f}% {row['ratio']:7.3f}")
    print(f"load average: before {load_before}, after {load_after}; medians of {args.rounds} interleaved rounds")
    for name, what in list(NOTES.items()) + list(PEERS.items()):
        if name in runs:
            print(f"  {name}: {what}")

    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({
                "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
                "token_bytes": len(token),
                "rounds": args.rounds,
                "duration_s": args.duration,
                "warmup_s": args.warmup,
                "connections": args.connections,
                "cores": {"server": args.server_core, "wrk": args.wrk_core},
                "load_average": {"before": load_before, "after": load_after},
                "nproc": os.cpu_count(),
                "results": rows,
            }, f, indent=1)
        print(f"results written to {args.out}")


if __name__ == "__main__":
    main()
