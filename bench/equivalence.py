"""Whether a change of code changed results: the same tune and report, run by two checkouts, decide the same.

    python -m bench.equivalence run RUNS_DIR OUT.json [--checkout DIR]   # tune + report there, write what they decided
    python -m bench.equivalence compare A.json B.json                     # exit 1 and name the differences

The run is `lstm-tune tune --problem addition --trials 16 --timeout 0` then `report --top-k 2 --repeats 4`
(fixed trial count: a time budget would make the number of trials depend on the machine's speed). What is
compared: every trial's state, value, params and seed SD; every candidate's test scores; the report's
statistics; the registered version's params, tags and aliases. Times, run ids and paths are left out.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

TUNE = ["tune", "--problem", "addition", "--trials", "16", "--timeout", "0", "--no-report", "--no-progress"]
REPORT = ["report", "--problem", "addition", "--top-k", "2", "--repeats", "4", "--no-progress"]
VOLATILE = ("time", "seconds", "git_commit", "run_id", "report_run", "uri", "path", "mlflow.", "source", "storage")


def _keep(key: str) -> bool:
    return not any(word in key for word in VOLATILE)


def run(runs: Path, out: Path, checkout: Path) -> None:
    python = Path(sys.executable)
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    for args in (TUNE, REPORT):
        subprocess.run([str(python), "-m", "pipeline.cli", *args, "--runs-dir", str(runs)], cwd=checkout, env=env,
                       check=True)
    out.write_text(json.dumps(decided(runs), indent=1, sort_keys=True, default=str))


def decided(runs: Path) -> dict:
    import optuna
    from mlflow.tracking import MlflowClient

    storage = f"sqlite:///{runs.resolve() / 'optuna.db'}"
    result: dict = {"trials": {}, "candidates": {}, "registry": {}}
    for name in sorted(optuna.get_all_study_names(storage)):
        study = optuna.load_study(study_name=name, storage=storage)
        result["trials"][name] = [[t.number, t.state.name, t.value, t.params, t.user_attrs.get("std")]
                                  for t in study.trials]
    client = MlflowClient(f"sqlite:///{runs.resolve() / 'mlflow.db'}")
    exp = client.get_experiment_by_name("lstm-addition").experiment_id
    for run in client.search_runs([exp], "tags.role = 'candidate'"):
        scores = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "test_accuracy"))
        result["candidates"][run.info.run_name] = {"scores": scores, "params": run.data.params}
    (report,) = client.search_runs([exp], "tags.role = 'report'")
    path = client.download_artifacts(report.info.run_id, "statistics.json", str(runs))
    result["statistics"] = {k: v for k, v in json.loads(Path(path).read_text()).items() if _keep(k)}
    for version in client.search_model_versions("name = 'lstm-addition'"):
        full = client.get_model_version("lstm-addition", version.version)
        params = client.get_run(full.run_id).data.params
        result["registry"][full.version] = {"aliases": sorted(full.aliases),
                                            "tags": {k: v for k, v in full.tags.items() if _keep(k)},
                                            "params": {k: v for k, v in params.items() if _keep(k)}}
    return result


def compare(a: Path, b: Path) -> int:
    left, right = json.loads(a.read_text()), json.loads(b.read_text())
    differences = [key for key in sorted(left.keys() | right.keys()) if left.get(key) != right.get(key)]
    for key in differences:
        print(f"{key} differs:\n  {a}: {json.dumps(left.get(key))[:2000]}\n  {b}: {json.dumps(right.get(key))[:2000]}")
    print("identical" if not differences else f"{len(differences)} part(s) differ")
    return 1 if differences else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run")
    one.add_argument("runs", type=Path)
    one.add_argument("out", type=Path)
    one.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    two = sub.add_parser("compare")
    two.add_argument("a", type=Path)
    two.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run(args.runs.resolve(), args.out.resolve(), args.checkout.resolve())
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
