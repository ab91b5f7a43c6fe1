"""One place that turns how a trial ended (an exception, or none) into its Optuna state, its MLflow run
status and the reason recorded on both (as Optuna's study/_optimize.py does for its own trials)."""
from __future__ import annotations

from dataclasses import dataclass

import optuna

from pipeline.errors import NonFiniteLoss

ERROR = "error"  # kind of failure that counts towards the tune stage's "errors in a row" stop rule
NONFINITE = "nonfinite"


@dataclass(frozen=True)
class Outcome:
    state: str  # Optuna trial state: COMPLETE, PRUNED or FAIL
    status: str  # MLflow status of the trial run: FINISHED, KILLED or FAILED
    reason: str | None = None
    kind: str | None = None  # ERROR, NONFINITE or None

    @property
    def cut_status(self) -> str:
        """MLflow status of a seed run cut off while training."""
        return "FAILED" if self.status == "FAILED" else "KILLED"

    @property
    def trial_state(self) -> optuna.trial.TrialState:
        return optuna.trial.TrialState[self.state]


COMPLETE = Outcome("COMPLETE", "FINISHED")


def outcome(exc: BaseException | None) -> Outcome:
    """How a trial that raised `exc` (None: returned normally) ended."""
    if exc is None:
        return COMPLETE
    if isinstance(exc, optuna.TrialPruned):
        return Outcome("PRUNED", "FINISHED", str(exc))
    if isinstance(exc, KeyboardInterrupt):
        return Outcome("FAIL", "KILLED", "interrupted by the user")
    if isinstance(exc, NonFiniteLoss):
        return Outcome("FAIL", "FAILED", f"non-finite loss: {exc}", NONFINITE)
    return Outcome("FAIL", "FAILED", f"{type(exc).__name__}: {exc}", ERROR)
