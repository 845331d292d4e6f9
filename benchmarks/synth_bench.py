"""Speed and memory of `tablerec synth` at default settings.

    python benchmarks/synth_bench.py            # about a minute on 2 cores
    python benchmarks/synth_bench.py --n 300 --rss-n 200 2000

Prints tables/s for --workers 1 and 2 (PNG writing included), and the peak
resident memory of the biggest process for two dataset sizes (memory should
not grow with N).  Each run is a fresh `python -m tablerec synth` process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_synth(out_dir: Path, n: int, workers: int, seed: int) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of all processes, peak RSS in MiB of the largest process) for one fresh run."""
    env = dict(os.environ)
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "tablerec", "synth", str(out_dir), "-n", str(n), "--seed", str(seed),
           "--workers", str(workers), "--quiet"]
    started = time.perf_counter()
    # A fresh shell per run so RUSAGE_CHILDREN's maximum belongs to this run only.
    probe = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
             "u = resource.getrusage(resource.RUSAGE_CHILDREN); print(u.ru_maxrss, u.ru_utime + u.ru_stime)")
    result = subprocess.run([sys.executable, "-c", probe, *cmd], env=env, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    rss_kib, cpu = result.stdout.split()
    return seconds, float(cpu), int(rss_kib) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="tables per speed run (default 400)")
    parser.add_argument("--rss-n", type=int, nargs=2, default=(200, 1600), help="two sizes for the memory runs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rows = []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            seconds, cpu, rss = run_synth(Path(tmp) / f"speed{workers}", args.n, workers, args.seed)
            rows.append((f"speed, --workers {workers}", args.n, args.n / seconds, args.n / cpu, rss))
        for n in args.rss_n:
            seconds, cpu, rss = run_synth(Path(tmp) / f"rss{n}", n, 2, args.seed + 1)
            rows.append(("memory, --workers 2", n, n / seconds, n / cpu, rss))
    print(f"tablerec synth benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
          f"load average {load_before:.1f} before the runs); times include process start-up and PNG writing.")
    print("tables/CPU-s = tables per second of CPU time over all processes: the rate one free core gives.")
    print(f"| {'run':<22} | {'N':>5} | {'tables/s':>8} | {'tables/CPU-s':>12} | {'peak RSS (MiB)':>14} |")
    print(f"|{'-' * 24}|{'-' * 7}|{'-' * 10}|{'-' * 14}|{'-' * 16}|")
    for name, n, rate, cpu_rate, rss in rows:
        print(f"| {name:<22} | {n:>5} | {rate:>8.1f} | {cpu_rate:>12.1f} | {rss:>14.0f} |")


if __name__ == "__main__":
    main()
