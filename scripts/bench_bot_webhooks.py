#!/usr/bin/env python
"""Burst of signed webhook deliveries at `engram bot serve` on loopback.

Starts the real server (uvicorn, its own process, a throwaway ENGRAM_HOME), fires N
signed `issue_comment` deliveries — `/engram` from a repository member, each on its
own issue, payloads built with the same GitHub-shaped objects the tests use — with C
in flight at a time, then stops the server and counts the rows in the SQLite queue.
Every delivery should be acknowledged (202) and every acknowledged delivery should be a
queued job: lost = N − rows. Bounded: the whole burst has a deadline, after which the
script stops and reports what it saw.

    .venv/bin/python scripts/bench_bot_webhooks.py                 # 1000 deliveries, 3 runs
    .venv/bin/python scripts/bench_bot_webhooks.py -n 200 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.webhook import sign  # noqa: E402
from tests.bot.fake_github import shapes  # noqa: E402

API = "https://api.github.com"
WEB = "https://github.com"
FULL_NAME = "acme/widgets"


def payload(number: int) -> dict:
    owner = shapes.user(API, WEB, "acme", type_="Organization")
    member = shapes.user(API, WEB, "maintainer")
    repo = shapes.repository(API, WEB, owner, FULL_NAME, 1, "main")
    issue = shapes.issue(
        API,
        WEB,
        FULL_NAME,
        number=number,
        ident=10_000 + number,
        title=f"bug {number}",
        body="add(1, 2) returns -1\n" * 20,
        author=member,
        association="MEMBER",
        labels=[],
        state="open",
        comments=1,
    )
    comment = shapes.comment(
        API,
        WEB,
        FULL_NAME,
        issue_number=number,
        ident=90_000 + number,
        body="/engram",
        author=member,
        association="MEMBER",
    )
    return {
        "action": "created",
        "issue": issue,
        "comment": comment,
        "repository": repo,
        "sender": member,
        "installation": shapes.installation(7),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to report CPU per delivery:
    a figure that, unlike latency, does not depend much on how loaded the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def burst(
    url: str, bodies: list[bytes], secret: bytes, concurrency: int, deadline_s: float
) -> tuple[list[float], dict[int, int]]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:

        async def one(body: bytes) -> None:
            headers = {
                "X-GitHub-Event": "issue_comment",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(secret, body),
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/bench",
            }
            async with gate:
                start = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    code = response.status_code
                except httpx.HTTPError:
                    code = -1
                latencies.append(time.perf_counter() - start)
                statuses[code] = statuses.get(code, 0) + 1

        tasks = [asyncio.create_task(one(b)) for b in bodies]
        _, pending = await asyncio.wait(tasks, timeout=deadline_s)
        for task in pending:
            task.cancel()
        if pending:
            statuses[0] = len(pending)  # 0: not answered before the deadline
    return latencies, statuses


def run_once(n: int, concurrency: int, deadline_s: float) -> dict:
    home = Path(tempfile.mkdtemp(prefix="engram-bench-bot-"))
    secret = "bench-" + uuid.uuid4().hex
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAM_")}
    env.update({"ENGRAM_HOME": str(home), "ENGRAM_WEBHOOK_SECRET": secret, "PYTHONPATH": str(ROOT)})
    log = home / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from agent.cli.main import main; main()",
                "bot",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        import httpx

        base = f"http://127.0.0.1:{port}"
        started = time.monotonic()
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1.0)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() - started > 30:
                    raise SystemExit(f"server did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        bodies = [json.dumps(payload(i + 1)).encode() for i in range(n)]
        cpu0 = cpu_seconds(server.pid)
        client0 = time.process_time()
        t0 = time.perf_counter()
        latencies, statuses = asyncio.run(
            burst(f"{base}/webhook", bodies, secret.encode(), concurrency, deadline_s)
        )
        wall = time.perf_counter() - t0
        server_cpu = cpu_seconds(server.pid) - cpu0
        client_cpu = time.process_time() - client0
    finally:
        server.terminate()
        server.wait(30)
    db = sqlite3.connect(home / "bot" / "queue.sqlite")
    jobs = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
    deliveries = db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    db.close()
    acked = statuses.get(202, 0)
    return {
        "n": n,
        "concurrency": concurrency,
        "acknowledged": acked,
        "statuses": statuses,
        "jobs_in_queue": jobs,
        "deliveries_in_queue": deliveries,
        "lost": acked - jobs,
        "p50_ms": 1000 * percentile(latencies, 50) if latencies else None,
        "p99_ms": 1000 * percentile(latencies, 99) if latencies else None,
        "max_ms": 1000 * max(latencies) if latencies else None,
        "wall_s": wall,
        "per_s": n / wall,
        "payload_bytes": len(bodies[0]),
        "server_cpu_ms": 1000 * server_cpu / n,
        "client_cpu_ms": 1000 * client_cpu / n,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="deliveries per run")
    parser.add_argument("-c", "--concurrency", type=int, default=50, help="requests in flight")
    parser.add_argument("--runs", type=int, default=3, help="independent runs (medians reported)")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds per burst")
    args = parser.parse_args()

    load = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
        f"{args.n} deliveries x {args.runs} run(s), {args.concurrency} in flight",
        flush=True,
    )
    results = []
    for i in range(args.runs):
        r = run_once(args.n, args.concurrency, args.deadline)
        results.append(r)
        print(
            f"run {i + 1}: acknowledged {r['acknowledged']}/{r['n']} statuses={r['statuses']} "
            f"queued jobs={r['jobs_in_queue']} deliveries={r['deliveries_in_queue']} "
            f"lost={r['lost']} p50={r['p50_ms']:.1f}ms p99={r['p99_ms']:.1f}ms "
            f"max={r['max_ms']:.1f}ms {r['per_s']:.0f}/s ({r['wall_s']:.2f}s, "
            f"CPU per delivery: server {r['server_cpu_ms']:.2f}ms client {r['client_cpu_ms']:.2f}ms, "
            f"{r['payload_bytes']} B payloads)",
            flush=True,
        )
    ok = all(r["acknowledged"] == r["n"] == r["jobs_in_queue"] for r in results)
    keys = ("p50_ms", "p99_ms", "per_s", "server_cpu_ms")
    med = {k: statistics.median(r[k] for r in results) for k in keys}
    print(
        f"median of {len(results)} run(s): p50={med['p50_ms']:.1f}ms p99={med['p99_ms']:.1f}ms "
        f"throughput={med['per_s']:.0f} deliveries/s "
        f"server CPU={med['server_cpu_ms']:.2f}ms/delivery; all acknowledged and queued: {ok}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
