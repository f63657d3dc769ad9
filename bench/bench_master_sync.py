"""One master serving many simulated nodes' sync rounds over HTTPS on 127.0.0.1.

The master runs as its own process (``voicegate master run``), exactly as in production. Every
simulated node enrols with its own one-time token and CSR, then does sync rounds as the real
client does: a fresh TLS connection with its own client certificate, ``GET /api/node/v1/config``
then ``POST /api/node/v1/health`` with an allow-listed report. Bounded in node count, rounds and
wall time.

    .venv/bin/python bench/bench_master_sync.py --nodes 1000 --rounds 2 --concurrency 16
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from master import registry
from master.app import create_master_app
from master.models import mdb
from master.pki import MasterPki
from sync_contract.health_schema import validate_health
from sync_contract.pki import csr_pem, key_pem, make_csr, new_key


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def start_master_process(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", "from voicegate.cli import main; raise SystemExit(main())",
         "master", "run", "--data", str(data_dir), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "https://" not in line:
        proc.kill()
        raise SystemExit(f"Master startete nicht: {line!r}")
    return proc, line.split(" auf ")[1].split("/ ")[0]


def create_nodes(data_dir: Path, count: int) -> list[str]:
    app = create_master_app(data_dir)
    tokens = []
    with app.app_context():
        for index in range(count):
            node = registry.create_node(f"knoten-{index:04d}", f"Kunde {index}")
            registry.add_number(node, f"49301{index:06d}", "Zentrale")
            tokens.append(registry.issue_token(node, 1.0))
        mdb.session.remove()
    return tokens


def enroll_one(url: str, ca: str, token: str, cert_file: Path) -> float:
    key = new_key()
    start = time.perf_counter()
    answer = requests.post(f"{url}/api/node/v1/enroll",
                           json={"token": token, "csr": csr_pem(make_csr(key))},
                           verify=ca, timeout=30)
    elapsed = time.perf_counter() - start
    answer.raise_for_status()
    cert_file.write_bytes(key_pem(key) + answer.json()["certificate"].encode())
    return elapsed


def health_report(seq: int) -> dict:
    return validate_health({
        "seq": seq, "sent_at": dt.datetime.now(dt.UTC).isoformat(), "version": "0.1.0",
        "uptime_s": 3600, "calls_in_progress": 1, "error_counts": {"calls_failed_24h": 0},
        "disk_free_bytes": 10**10, "disk_total_bytes": 5 * 10**10,
        "engine_status": {"stt": "ok", "llm": "ok", "tts": "ok"},
        "applied_config_version": 2, "config_error": None, "sync_gap": None,
    }).to_wire()


def sync_round(url: str, ca: str, cert_file: Path, seq: int,
               latencies: list[float], lock: threading.Lock) -> bool:
    with requests.Session() as session:
        start = time.perf_counter()
        config = session.get(f"{url}/api/node/v1/config", verify=ca, cert=str(cert_file),
                             timeout=30)
        middle = time.perf_counter()
        health = session.post(f"{url}/api/node/v1/health", json=health_report(seq), verify=ca,
                              cert=str(cert_file), timeout=30)
        end = time.perf_counter()
    with lock:
        latencies.extend((middle - start, end - middle))
    return config.status_code == 200 and health.status_code == 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2, help="sync rounds per node")
    parser.add_argument("--concurrency", type=int, default=16, help="nodes syncing at once")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds, whole run")
    args = parser.parse_args()
    deadline = time.monotonic() + args.time_limit

    with tempfile.TemporaryDirectory(prefix="bench-master-") as tmp:
        data_dir, certs = Path(tmp) / "master", Path(tmp) / "certs"
        certs.mkdir()
        MasterPki(data_dir / "pki").init(["127.0.0.1"])
        ca = str(data_dir / "pki" / "ca.crt")
        tokens = create_nodes(data_dir, args.nodes)
        proc, url = start_master_process(data_dir)
        print(f"Master {url} (eigener Prozess), {args.nodes} Knoten, {args.rounds} Runden, "
              f"{args.concurrency} gleichzeitig, CPU-Kerne: {os.cpu_count()}")
        try:
            files = [certs / f"{i}.pem" for i in range(args.nodes)]
            start = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                enrol_times = list(pool.map(lambda i: enroll_one(url, ca, tokens[i], files[i]),
                                            range(args.nodes)))
            enrol_wall = time.perf_counter() - start
            print(f"Registrierung: {args.nodes / enrol_wall:.1f} Knoten/s, "
                  f"p95 {percentile(enrol_times, 95) * 1000:.0f} ms")

            latencies: list[float] = []
            lock = threading.Lock()
            ok = failed = 0
            start = time.perf_counter()
            seq_base = int(time.time() * 1000)
            for round_no in range(args.rounds):
                if time.monotonic() > deadline:
                    print("Zeitlimit erreicht, Abbruch")
                    break
                with ThreadPoolExecutor(args.concurrency) as pool:
                    results = list(pool.map(
                        lambda i, r=round_no: sync_round(url, ca, files[i], seq_base + r + 1,
                                                         latencies, lock),
                        range(args.nodes),
                    ))
                ok += sum(results)
                failed += len(results) - sum(results)
            wall = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()

    print(f"Sync-Runden: {ok} erfolgreich, {failed} fehlgeschlagen, {wall:.1f} s")
    print(f"Anfragen/s: {len(latencies) / wall:.1f} (je Runde 2 Anfragen, neue TLS-Verbindung "
          "mit Client-Zertifikat je Runde)")
    print(f"Latenz je Anfrage: p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p95 {percentile(latencies, 95) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.1f} ms")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
