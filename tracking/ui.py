"""Where MLflow's UI shows things: an experiment's runs page, a run, and the report's candidates side by
side (a saved view: their seed runs grouped by candidate, so the charts draw each candidate's mean over
seeds with its min-max band). `python -m tracking.ui URI PROBLEM [BASE]` prints the pages of a problem
(`make ui` does, before it starts the UI)."""
from __future__ import annotations

import sys

from tracking.names import experiment_name
from tracking.tracker import Tracker

DEFAULT_UI = "http://127.0.0.1:5000"  # where `mlflow ui` listens unless told otherwise
CANDIDATES_VIEW = "candidates"  # the saved view of the latest report's candidates
CANDIDATE_TAG, REPORT_TAG = "candidate", "report"  # on each seed run of a report's candidate
# MLflow 3.17's UI keeps a GenAI / model training mode per browser, GenAI in a new one, and opens an
# experiment's bare address in that mode whatever its kind (mlflow.experimentKind): the runs page is named.
TRAINING_MODE = "workflowType=machine_learning"


def server_url(uri: str) -> str | None:
    """The base URL of the UI when the tracking URI is an HTTP server (it serves the UI too), else None."""
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else None


def experiment_url(base: str, experiment_id: str) -> str:
    """The experiment's runs page, in the UI's model training mode."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs?{TRAINING_MODE}"


def run_url(base: str, experiment_id: str, run_id: str) -> str:
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}?{TRAINING_MODE}"


def candidates_url(base: str, experiment_id: str) -> str:
    """The saved view of the latest report's candidates, as charts (mean and min-max band over seeds)."""
    return f"{experiment_url(base, experiment_id)}&viewStateShareKey={CANDIDATES_VIEW}&compareRunsMode=CHART"


def share_candidates_view(tracker: Tracker, experiment_id: str, report_run_id: str) -> None:
    """Save the view of this report's candidates: its seed runs only, grouped by candidate (average)."""
    tracker.share_view(experiment_id, CANDIDATES_VIEW, {
        "searchFilter": f"tags.{REPORT_TAG} = '{report_run_id}'", "orderByKey": "attributes.start_time",
        "orderByAsc": True, "useGroupedValuesInCharts": True,
        "groupBy": {"aggregateFunction": "average", "groupByKeys": [{"mode": "tag", "groupByData": CANDIDATE_TAG}]}})


def pages(tracker: Tracker, problem: str, base: str = DEFAULT_UI) -> list[str]:
    """Lines naming the UI's pages of `problem`'s experiment (nothing is created or changed)."""
    experiment_id = tracker.find_experiment(experiment_name(problem))
    if experiment_id is None:
        return [f"MLflow UI: {base}/#/experiments (no runs of '{problem}' yet; PROBLEM= picks another)"]
    lines = [f"MLflow UI, runs of '{problem}': {experiment_url(base, experiment_id)}"]
    tags = tracker.client.get_experiment(experiment_id).tags
    if f"mlflow.sharedViewState.{CANDIDATES_VIEW}" in tags:
        lines.append(f"the latest report's candidates, grouped over seeds: {candidates_url(base, experiment_id)}")
    return lines


def main(argv: list[str]) -> int:
    uri, problem, base = (argv + [DEFAULT_UI])[:3] if len(argv) >= 2 else (None, None, None)
    if uri is None:
        print("usage: python -m tracking.ui TRACKING_URI PROBLEM [http://HOST:PORT]", file=sys.stderr)
        return 2
    try:
        print("\n".join(pages(Tracker(uri), problem, base)), flush=True)
    except Exception as exc:  # the UI starts anyway: the URL is a convenience
        print(f"MLflow UI: {base}/#/experiments ({type(exc).__name__}: {str(exc)[:120]})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
