"""Chaos: one study on PostgreSQL with 3 local workers and an MLflow server, under faults.

During the study a worker is SIGKILLed 3 times (a different one each time), the MLflow server is
killed and restarted once, and every database connection is terminated once; then the same command
is run again to recover (`lstm-tune sync`, and `lstm-tune tune` for the trials still to do). Counted
afterwards: trials asked, complete / pruned / failed / retried, trials lost, duplicate (trial, seed)
runs in MLflow, runs left RUNNING; and the wall time against the same study without faults.

Run alone: .venv/bin/python -m bench.chaos [--trials 18]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
from mlflow.tracking import MlflowClient

from bench.common import Results, table
from bench.pg import PG, WORKER_SPACE as SPACE, fresh_databases
from bench.servers import MlflowServer

ENV = {"LSTM_TUNE_HEARTBEAT": "2", "LSTM_TUNE_GRACE": "6", "LSTM_TUNE_TRACKING_RETRIES": "2",
       "LSTM_TUNE_TRACKING_BACKOFF": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _cli(*args: str, runs: Path, tracking: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args, "--tracking", tracking, "--runs-dir", str(runs)]


def _tune(storage: str, tracking: str, runs: Path, space: Path, tag: str, trials: int) -> subprocess.Popen:
    command = _cli("tune", "--problem", "echo", "--arch", "vanilla", "--trials", str(trials), "--seeds", "2",
                   "--workers", "3", "--timeout", "0", "--storage", storage, "--space", str(space), "--tag", tag,
                   "--data", "n_train=256 n_val=64 n_test=64", "--pruner", "none", "--no-report", "--no-progress",
                   runs=runs, tracking=tracking)
    return subprocess.Popen(command, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _workers(launcher: int) -> list[int]:
    """The worker processes a `tune --workers n` launcher spawned (not multiprocessing's resource tracker)."""
    try:
        children = Path(f"/proc/{launcher}/task/{launcher}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _finished(storage: str, name: str) -> int:
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except Exception:  # not created yet, or a connection just terminated by the chaos
        return 0
    return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))


def _terminate_connections(*urls: str) -> int:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **PG) as admin:
        return sum(len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                     "AND pid <> pg_backend_pid()", (url.rsplit("/", 1)[1],)).fetchall())
                   for url in urls)


def _chaos(proc: subprocess.Popen, storage: str, backend: str, server: MlflowServer, name: str,
           trials: int) -> tuple[dict[str, int], list[int]]:
    """Inject the faults as the study reaches 15%, 30%, 40%, 50% and 60% of its trials (a killed worker's
    trial counts as running until it is failed, so the last worker stops before 100%)."""
    plan = [(0.15, "kill"), (0.3, "server"), (0.4, "database"), (0.5, "kill"), (0.6, "kill")]
    done = {"kill": 0, "server": 0, "database": 0}
    killed: list[int] = []  # pids
    while proc.poll() is None and plan:
        if _finished(storage, name) >= plan[0][0] * trials:
            fault = plan.pop(0)[1]
            if fault == "kill":
                alive = _workers(proc.pid)
                if alive:
                    os.kill(alive[0], 9)
                    done["kill"] += 1
                    killed.append(alive[0])
            elif fault == "server":
                server.kill()
                time.sleep(2)
                server.start()
                done["server"] += 1
            elif _terminate_connections(storage, backend):
                done["database"] += 1
        time.sleep(0.3)
    return done, killed


def _audit(storage: str, tracking: str, name: str, killed: list[int]) -> dict[str, int]:
    """What the study and MLflow hold once every worker has exited; `killed`: the pids SIGKILLed."""
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    state = optuna.trial.TrialState
    retried = {t.system_attrs["failed_trial"] for t in trials if "failed_trial" in t.system_attrs}
    client = MlflowClient(tracking)
    exp = client.get_experiment_by_name("lstm-echo").experiment_id
    runs = [r for r in client.search_runs([exp], f"tags.study = '{name}'", max_results=50000)]
    keys: dict[tuple, int] = {}
    for run in runs:
        if run.data.tags.get("role") in ("trial", "seed"):
            key = (run.data.tags["role"], run.data.tags["trial"], run.data.tags.get("seed"))
            keys[key] = keys.get(key, 0) + 1
    logged = {int(trial) for role, trial, _ in keys if role == "trial"}
    # Lost: a failed trial not retried, an unfinished one, or a finished one without its MLflow run (a trial
    # killed after Optuna gave it out but before its run was made has nothing to log: it is counted apart).
    lost = [t.number for t in trials if (t.state == state.FAIL and t.number not in retried)
            or (t.state in (state.COMPLETE, state.PRUNED) and t.number not in logged) or not t.state.is_finished()]
    unlogged = [t.number for t in trials if t.state == state.FAIL and t.number in retried and t.number not in logged]
    return {"asked": len(trials), "complete": sum(t.state == state.COMPLETE for t in trials),
            "pruned": sum(t.state == state.PRUNED for t in trials), "failed": sum(t.state == state.FAIL for t in trials),
            "retried": len(retried), "lost": len(lost), "killed_before_logging": len(unlogged),
            "cut_by_kills": sum(r.data.tags.get("role") == "trial" and r.info.status == "KILLED"
                                and r.data.tags.get("worker", "").rsplit(":", 1)[-1] in {str(p) for p in killed}
                                for r in runs),
            "duplicates": sum(n - 1 for n in keys.values()),
            "running": sum(r.info.status == "RUNNING" for r in runs if r.data.tags.get("role") != "study")
            + sum(t.state == state.RUNNING for t in trials)}


def run(results: Results, trials: int = 18) -> None:
    with tempfile.TemporaryDirectory() as tmp, fresh_databases("chaos") as (storage, backend):
        root = Path(tmp)
        space, runs = root / "space.yaml", root / "runs"
        space.write_text(SPACE)
        (root / "artifacts").mkdir()
        with MlflowServer(backend, root / "artifacts") as server:
            start = time.perf_counter()
            clean = _tune(storage, server.uri, runs, space, "clean", trials)
            clean.communicate()
            clean_seconds = time.perf_counter() - start

            start = time.perf_counter()
            proc = _tune(storage, server.uri, runs, space, "chaos", trials)
            faults, killed = _chaos(proc, storage, backend, server, "echo-vanilla-chaos", trials)
            proc.communicate()
            chaos_seconds = time.perf_counter() - start
            time.sleep(int(ENV["LSTM_TUNE_GRACE"]) + 1)  # the killed workers' heartbeats go stale
            subprocess.run(_cli("sync", runs=runs, tracking=server.uri), env={**os.environ, **ENV}, check=True)
            study = optuna.load_study(study_name="echo-vanilla-chaos", storage=storage)
            finished = sum(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
                           for t in study.get_trials(deepcopy=False))
            again = _tune(storage, server.uri, runs, space, "chaos", max(1, trials - finished))
            out, _ = again.communicate()
            if again.returncode != 0:
                raise RuntimeError(f"the recovery run failed: {out[-2000:]}")
            recovered_seconds = time.perf_counter() - start
            audit = _audit(storage, server.uri, "echo-vanilla-chaos", killed)
    _write(results, trials, faults, audit, clean_seconds, chaos_seconds, recovered_seconds)


def _write(results: Results, trials: int, faults: dict[str, int], audit: dict[str, int], clean: float,
           chaos: float, recovered: float) -> None:
    for key, value in {**{f"faults_{k}": v for k, v in faults.items()}, **audit}.items():
        results.add("chaos", key, value, "count")
    for key, value in (("clean_seconds", clean), ("chaos_seconds", chaos), ("recovered_seconds", recovered)):
        results.add("chaos", key, round(value, 1), "s")
    rows = [["trials asked", audit["asked"]], ["complete / pruned / failed", f"{audit['complete']} / "
            f"{audit['pruned']} / {audit['failed']}"], ["retried (a killed worker's trial)", audit["retried"]],
            ["trials cut short by the kills (a worker killed between trials cuts none)", audit["cut_by_kills"]],
            ["of the retried, killed before their MLflow run was made", audit["killed_before_logging"]],
            ["**trials lost**", f"**{audit['lost']}**"], ["**duplicate (trial, seed) runs in MLflow**",
            f"**{audit['duplicates']}**"], ["**runs left RUNNING**", f"**{audit['running']}**"],
            ["wall time without faults", f"{clean:.0f} s"],
            ["wall time with faults (until the last worker died)", f"{chaos:.0f} s"],
            ["wall time with faults, recovery included", f"{recovered:.0f} s ({recovered / clean:.2f}×)"]]
    results.section("Chaos: workers killed, tracking restarted, connections dropped", table(["", "measured"], rows)
                    + f"\n\n{trials} trials of echo/vanilla (2 seeds, 2 epochs, 256 samples, no pruning) on one "
                    f"PostgreSQL study with 3 local workers (`--workers 3`) and an MLflow server over PostgreSQL. "
                    f"Faults: {faults['kill']} workers SIGKILLed (at 15%, 50% and 60% of the trials), "
                    f"{faults['server']} MLflow server restart (killed at 30%), {faults['database']} termination of "
                    "every database connection (`pg_terminate_backend`, at 40%). Recovery: `lstm-tune sync`, then "
                    "the same `tune` command for the trials still to do. Lost: a failed trial not retried, a "
                    "trial left unfinished, or a finished trial without its MLflow run.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=18)
    args = parser.parse_args()
    run(Results(bench="chaos"), args.trials)  # prints its section; `python -m bench --only chaos` writes it
