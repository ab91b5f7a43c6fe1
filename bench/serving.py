"""Serving: requests per second and latency of `lstm-tune serve` (MLflow's scoring protocol under uvicorn)
for batches of 1 and 100 rows, one client at a time, on a registered echo model.

Run: .venv/bin/python -m bench.serving [--requests 200]
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench.common import Results, table

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int, rows: list[str]) -> tuple[int, dict]:
    """POST rows in MLflow's dataframe_split format; (status, JSON body)."""
    body = json.dumps({"dataframe_split": {"columns": ["input"], "data": [[r] for r in rows]}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", body,
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def register_model(runs_dir: Path, epochs: int = 1) -> tuple[list[str], list[str]]:
    """The echo reference (units 4 for speed) trained briefly, packaged and registered as lstm-echo v1
    @champion under runs_dir; returns (raw inputs, the model's answers)."""
    from pipeline.champion import raw_examples
    from pipeline.problems import get_problem
    from pipeline.training.one_seed import TrainOptions, train_one
    from tracking.tracker import Tracker
    from tracking.packaging import log_problem_model
    from tracking.registry import Registry

    problem = get_problem("echo")
    splits = problem.splits(seed=0, n_train=64, n_val=16, n_test=128)
    model = train_one(problem, "vanilla", {"units": 4, "epochs": epochs}, 0, (splits.x_train, splits.y_train),
                      options=TrainOptions(keep_models=True)).model
    tracker = Tracker.embedded(runs_dir)
    run_id = tracker.start_run(tracker.experiment_id("lstm-echo"), "final", "final")
    examples = raw_examples(problem, splits.x_test)
    answers = problem.predict_raw(model, examples)
    uri = log_problem_model(tracker, run_id, model, problem.state(), examples[:3], answers[:3])
    tracker.end_run(run_id)
    registry = Registry(tracker)
    registry.promote("lstm-echo", registry.register("lstm-echo", uri, run_id, {}).version)
    return examples, answers


@contextmanager
def running_server(runs_dir: Path, problem: str = "echo", wait: float = 120) -> Iterator[tuple[int, subprocess.Popen]]:
    """`lstm-tune serve` on a free local port, up (answers /ping) until the block ends."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "serve", "--problem", problem, "--port",
                             str(port), "--runs-dir", str(runs_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + wait
    try:
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"the server did not start: {proc.stdout.read()[-2000:]}")
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def run(results: Results, requests: int = 200) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        examples, _ = register_model(Path(tmp) / "runs")
        with running_server(Path(tmp) / "runs") as (port, _):
            for batch in (1, 100):
                payload = (examples * (batch // len(examples) + 1))[:batch]
                post(port, payload)  # warm-up
                latencies = []
                start = time.perf_counter()
                for _ in range(requests):
                    t0 = time.perf_counter()
                    status, _ = post(port, payload)
                    latencies.append(time.perf_counter() - t0)
                    assert status == 200
                total = time.perf_counter() - start
                ordered = sorted(latencies)
                p50, p95 = statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]
                results.add("serving", f"requests_per_second_batch{batch}", round(requests / total, 1), "1/s")
                results.add("serving", f"latency_p50_ms_batch{batch}", round(1000 * p50, 1), "ms")
                results.add("serving", f"latency_p95_ms_batch{batch}", round(1000 * p95, 1), "ms")
                rows.append([batch, requests, f"{requests / total:.1f}", f"{requests * batch / total:.0f}",
                             f"{1000 * p50:.1f}", f"{1000 * p95:.1f}"])
    results.section("7. Serving: `lstm-tune serve` requests per second and latency", table(
        ["rows per request", "requests", "requests/s", "rows/s", "p50 latency (ms)", "p95 latency (ms)"], rows)
        + "\n\nOne client, sequential requests over HTTP on 127.0.0.1, echo model (LSTM, 4 units), after one "
          "warm-up request; the server runs MLflow's scoring app under uvicorn in one process.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    run(Results(), args.requests)


if __name__ == "__main__":
    main()
