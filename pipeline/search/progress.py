"""Progress of a study: a bar over trials (an Optuna callback), one line per failure, and the rule
that stops the study after MAX_ERRORS_IN_A_ROW trials in a row fail with errors."""
from __future__ import annotations

import sys
import time

import optuna
from tqdm import tqdm

from pipeline.search.outcome import ERROR

MAX_ERRORS_IN_A_ROW = 3
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)


def count_finished(study: optuna.Study, running: bool = False) -> int:
    """Trials finished in the study (and those running, when `running`)."""
    states = FINISHED + ((optuna.trial.TrialState.RUNNING,) if running else ())
    return len(study.get_trials(deepcopy=False, states=states))


class Progress:
    """Optuna callback: a bar over trials with the best value and the time left (a time.monotonic()
    `deadline`); one line per failure. `stopped_reason` says why the study was stopped (engines that run
    their own loop read it too)."""

    def __init__(self, name: str, total: int, enabled: bool, deadline: float | None = None) -> None:
        self.bar = tqdm(total=total, desc=name, unit="trial", disable=not enabled, file=sys.stderr,
                        dynamic_ncols=True, leave=True)
        self.errors_in_a_row = 0
        self.stopped_reason: str | None = None
        self.deadline = deadline

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        counts = {s: 0 for s in ("COMPLETE", "PRUNED", "FAIL")}
        for t in study.get_trials(deepcopy=False):
            if t.state.name in counts:
                counts[t.state.name] += 1
        postfix = {"done": counts["COMPLETE"], "pruned": counts["PRUNED"], "failed": counts["FAIL"]}
        try:
            postfix = {"best": f"{study.best_value:.4g}", **postfix}
        except ValueError:
            pass
        if self.deadline is not None:
            left = max(0, int(self.deadline - time.monotonic()))
            postfix["time left"] = f"{left // 60}:{left % 60:02d}"
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.update(1)
        if trial.state == optuna.trial.TrialState.FAIL:
            reason = trial.user_attrs.get("reason", "unknown error")
            self.bar.write(f"  trial {trial.number} failed: {reason}")
            self.errors_in_a_row = self.errors_in_a_row + 1 if trial.user_attrs.get("fail_kind") == ERROR else 0
            if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW:
                self.stopped_reason = f"{MAX_ERRORS_IN_A_ROW} trials in a row failed with errors; last: {reason}"
                try:
                    study.stop()
                except RuntimeError:  # called from the launcher's poll loop, outside optimize()
                    pass
        else:
            self.errors_in_a_row = 0

    def write(self, line: str) -> None:
        self.bar.write(line)

    def close(self) -> None:
        self.bar.close()
