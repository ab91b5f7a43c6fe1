"""Trial logging that outlives a tracking outage.

A trial's MLflow writes go straight to the server (MLflow retries each HTTP request with backoff:
tracking.stores sets how long). When one still fails, that write and every later one of the trial
are appended to a journal on disk, runs/outbox/<study>-trial-<n>/journal.jsonl (figures and the
model saved beside it), and training goes on. `replay` (`lstm-tune sync`, and the start of every
tune) applies pending journals once the server answers: a run is found again by its identity tags
(role, trial, seed under its parent run) before one is created, metrics keep their timestamps, so a
replay, or a replay cut off and run again, never logs a run twice. A journal whose writer died
before closing it ends its runs KILLED, like a worker that died online.
"""
from __future__ import annotations

import fcntl
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tracking.tracker import Tracker

JOURNAL = "journal.jsonl"
WORKER_DIED = {"state": "FAIL", "reason": "worker died"}
PAUSE = 1.0  # seconds before a failed write is tried once more


def outbox_dir(runs_dir: Path) -> Path:
    return Path(runs_dir) / "outbox"


def metric_items(metrics: dict[str, float], step: int = 0) -> list[list]:
    """[name, value, timestamp ms, step] rows, stamped now (a replay logs the same rows again)."""
    now = int(time.time() * 1000)
    return [[k, float(v), now, step] for k, v in metrics.items() if v is not None]


def apply(tracker: Tracker, experiment_id: str, ids: dict[str, str], op: dict[str, Any], folder: Path,
          find: bool) -> None:
    """Carry out one journaled write; `ids` maps run keys to MLflow run ids and grows on "create".
    With `find`, a run is first looked up by its identity tags under its parent (made before a failure).
    A create is two writes, the run with its tags and then its params: a failure between them leaves a
    run that is found by its tags, so the params are logged whether the run was found or made (logging
    a param again with the same value is a no-op in MLflow)."""
    kind, key = op["op"], op.get("run")
    if kind == "create":
        if key in ids:
            return
        parent = ids[op["parent"]]
        found = tracker.find_run(experiment_id, parent, op["match"]) if find else None
        run_id = found or tracker.start_run(experiment_id, op["name"], op["match"]["role"], parent,
                                            tags={**op["tags"], **op["match"]})
        tracker.log_params(run_id, op["params"])  # apart from the create, so a run found again gets them too
        ids[key] = run_id
    elif kind == "metrics":
        tracker.log_metric_rows(ids[key], op["items"])
    elif kind == "tags":
        tracker.set_tags(ids[key], op["tags"])
    elif kind == "inputs":  # datasets (tracking.datasets): MLflow keeps one input per run and dataset
        tracker.log_inputs(ids[key], op["inputs"])
    elif kind == "text":
        tracker.log_text(ids[key], op["text"], op["path"])
    elif kind == "artifacts":
        tracker.log_artifacts(ids[key], folder / op["local"], op.get("artifact_path"))
    elif kind == "end":
        tracker.end_run(ids[key], op["status"], op.get("tags"))


class Journal:
    """One trial's MLflow writes: applied at once while the server answers; from the first failure
    on, appended to the trial's journal (locked by this process while it writes) for `replay`."""

    def __init__(self, tracker: Tracker, experiment_id: str, folder: Path, ids: dict[str, str]) -> None:
        self.tracker, self.experiment_id, self.folder = tracker, experiment_id, folder
        self.ids = dict(ids)  # run key -> MLflow run id
        self.creates: dict[str, dict[str, Any]] = {}  # run key -> its "create" op
        self.file = None  # the open, locked journal once offline

    @property
    def offline(self) -> bool:
        return self.file is not None

    def do(self, op: dict[str, Any]) -> None:
        if not self.offline and self._try(lambda find: self._apply(op, find)):
            return
        self._append(op)

    def _apply(self, op: dict[str, Any], find: bool) -> None:
        key = op.get("run")
        if op["op"] == "create":
            self.creates[key] = op
        elif key in self.creates and key not in self.ids:  # its create was cut off (Ctrl-C inside MLflow's call):
            apply(self.tracker, self.experiment_id, self.ids, self.creates[key], self.folder, find=True)  # found
        apply(self.tracker, self.experiment_id, self.ids, op, self.folder, find)

    def artifacts(self, key: str, online, save, artifact_path: str | None = None) -> Any:
        """`online()` logs an artifact (returns its result); offline, `save(folder)` writes it under
        the journal's folder (returns its name there) and the folder's file is logged on replay."""
        if not self.offline:
            result: list = []
            if self._try(lambda find: result.append(online())):
                return result[0]
        self._append({"op": "artifacts", "run": key, "local": save(self.folder), "artifact_path": artifact_path})
        return None

    def close(self) -> None:
        """Mark the journal complete (a replay ends its runs as journaled) and unlock it."""
        if self.offline:
            self._append({"op": "closed"})
            self.file.close()
            self.file = None

    def _try(self, call) -> bool:
        """call(find) twice, the second time after a pause (a database store's pool reconnects) and
        looking up what the first may have made; then the write waits on disk."""
        for find in (False, True):
            try:
                call(find)
                return True
            except Exception as exc:  # any failure of the server, the database or the network
                error = exc
                time.sleep(0 if find else PAUSE)
        self._open(error)
        return False

    def _open(self, exc: Exception) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / JOURNAL
        try:
            self.file = open(path, "a")
            fcntl.flock(self.file, fcntl.LOCK_EX)
            self._append({"op": "header", "experiment_id": self.experiment_id, "ids": self.ids})
        except OSError as err:
            raise OSError(f"cannot keep MLflow writes in {path}: {err.strerror or err}") from None
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        print(f"lstm-tune: MLflow did not answer ({reason}); training goes on, this trial's logging is kept in "
              f"{path} and replayed by `lstm-tune sync` or the next tune", file=sys.stderr, flush=True)

    def _append(self, op: dict[str, Any]) -> None:
        self.file.write(json.dumps(op, default=str) + "\n")
        self.file.flush()


def replay(tracker: Tracker, root: Path) -> tuple[int, int]:
    """Apply every pending journal under `root` whose writer is done (or dead); (replayed, left).
    First checks that `root` can be written: an OSError naming it, before any training, if not."""
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=root).close()
    except OSError as exc:
        raise OSError(f"cannot write to {root} ({exc.strerror or exc}): trial logging waits there while MLflow is "
                      "unreachable; free some space or pass another --runs-dir") from None
    replayed = left = 0
    for path in sorted(Path(root).glob(f"*/{JOURNAL}")):
        with open(path) as file:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its trial is still running in a live worker
                left += 1
                continue
            if not path.exists():  # replayed meanwhile by another process
                continue
            ops = []
            for line in file:
                try:
                    ops.append(json.loads(line))
                except json.JSONDecodeError:  # a line torn by a killed writer: the writes after it never happened
                    break
            if not ops:
                continue
            _replay_one(tracker, ops, path.parent)
            shutil.rmtree(path.parent)
            replayed += 1
    return replayed, left


def _replay_one(tracker: Tracker, ops: list[dict[str, Any]], folder: Path) -> None:
    header = ops[0]
    ids, experiment_id = dict(header["ids"]), header["experiment_id"]
    for op in ops[1:]:
        if op["op"] != "closed":
            apply(tracker, experiment_id, ids, op, folder, find=True)
    if ops[-1]["op"] != "closed":  # its worker died mid-trial
        for key, run_id in ids.items():
            if key != "parent" and tracker.run_status(run_id) == "RUNNING":
                tracker.end_run(run_id, "KILLED", WORKER_DIED)
