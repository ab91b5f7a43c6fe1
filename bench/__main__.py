"""`make bench`: every comparison side by side in one run, written to bench/results.md and results.csv.

Run: .venv/bin/python -m bench [--only seed_parallel,overhead,...] [--quick]
"""
from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import calibration, chaos, overhead, search, search_quality, seed_parallel, serving, workers
from bench.common import BENCH_DIR, Results, machine

SECTIONS = {  # name -> (run at default size, run at --quick size)
    "overhead": (lambda r: overhead.default_overhead(r), lambda r: overhead.default_overhead(r, trials=1)),
    "seed_parallel": (lambda r: (seed_parallel.run(r), seed_parallel.threads(r)),
                      lambda r: (seed_parallel.run(r, sizes=((300, 1, 1),), towers=(3,)),
                                 seed_parallel.threads(r, n_train=300, epochs=1))),
    "video": (lambda r: seed_parallel.video(r), lambda r: seed_parallel.video(r, epochs=1, towers=(2,), n_train=64)),
    "workers": (lambda r: workers.run(r), lambda r: workers.run(r, trials=4)),
    "search_quality": (lambda r: search_quality.run(r), lambda r: search_quality.run(r, trials=3, eval_seeds=3)),
    "flat_overhead": (lambda r: overhead.flat_overhead(r), lambda r: overhead.flat_overhead(r, trials=10, window=2)),
    "calibration": (lambda r: calibration.run(r), lambda r: calibration.run(r, reps=20)),
    "serving": (lambda r: serving.run(r), lambda r: serving.run(r, requests=5)),
    "throughput": (lambda r: search.throughput(r),
                   lambda r: search.throughput(r, minutes=2, eval_seeds=3, data=search.QUICK_DATA)),
    "fidelity": (lambda r: search.fidelity(r),
                 lambda r: search.fidelity(r, structures=1, siblings=2, data=search.QUICK_DATA)),
    "leaderboard": (lambda r: search.leaderboard(r, problems=search.leaderboard_problems()),
                    lambda r: search.leaderboard(r, minutes=0.5, eval_seeds=3, problems=("echo", "addition"),
                                                 sizes={p: search.QUICK_DATA for p in ("echo", "addition")})),
    "samplers": (lambda r: search.samplers(r),
                 lambda r: search.samplers(r, minutes=0.5, eval_seeds=2, data=search.QUICK_DATA)),
    "schedule": (lambda r: search.schedule(r), lambda r: search.schedule(r, eval_seeds=2, data=search.QUICK_DATA)),
    "chaos": (lambda r: chaos.run(r), lambda r: chaos.run(r, trials=9)),
}


def _isolated(name: str, quick: bool, results: Results) -> bool:
    """Run one section in a fresh interpreter, so that none measures the state an earlier one left
    behind (models, graphs, stores), and add its results; False if it failed."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "section.json"
        command = [sys.executable, "-m", "bench", "--section", name, "--dump", str(dump)]
        if subprocess.run(command + (["--quick"] if quick else [])).returncode != 0:
            results.bench = name
            results.section(f"{name}: failed", "The section exited with an error; its output is in the log.")
            return False
        results.merge(dump)
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help=f"comma list of: {', '.join(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the benchmark itself runs")
    parser.add_argument("--out", default=str(BENCH_DIR / "results"), help="path stem for .md and .csv")
    parser.add_argument("--section", choices=list(SECTIONS), help=argparse.SUPPRESS)  # one section, in-process
    parser.add_argument("--dump", help=argparse.SUPPRESS)  # where --section writes its results
    args = parser.parse_args()
    if args.section:
        results = Results(bench=args.section)
        SECTIONS[args.section][1 if args.quick else 0](results)
        results.dump(Path(args.dump))
        return
    chosen = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown:
        sys.exit(f"bench: unknown section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results, start, failed = Results(), time.perf_counter(), []
    for name in chosen:
        t0 = time.perf_counter()
        if not _isolated(name, args.quick, results):
            failed.append(name)
        results.bench = name
        results.add("timing", f"{name}_seconds", round(time.perf_counter() - t0, 1), "s")
        print(f"[bench] {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    total = time.perf_counter() - start
    header = (f"# lstm-tune benchmarks\n\nMeasured {datetime.date.today()} on {machine()}, in {total / 60:.1f} min "
              f"(`make bench`{' --quick' if args.quick else ''}; sections: {', '.join(chosen)}). "
              "Each comparison is measured side by side in this one run; each section runs in a fresh process."
              + (" Sections measured by earlier runs follow below theirs, unchanged." if args.only else ""))
    results.write(Path(args.out + ".md"), Path(args.out + ".csv"), header, keep_others=bool(args.only))
    print(f"[bench] wrote {args.out}.md and {args.out}.csv in {total / 60:.1f} min")
    if failed:
        sys.exit(f"bench: section(s) failed: {', '.join(failed)} (the others' results are written)")


if __name__ == "__main__":
    main()
