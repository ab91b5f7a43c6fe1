"""KerasTuner engine: KerasTuner's oracles pick the configurations, the usual Objective trains them.

Each KerasTuner trial becomes one Optuna trial of the pair's keras-tuner study: its values (read
through the one YAML loader, see HyperParametersTrial) are enqueued and asked, the Objective trains
them over the study's seeds and logs the same MLflow runs and user attrs, and the Optuna result is
told back to KerasTuner: the mean for COMPLETE, the mean of the finished seeds for PRUNED (racing,
time budget), FailedTrialError for FAIL (KerasTuner goes on). Hyperband's `tuner/epochs` becomes the
trial's epochs (Objective's EPOCHS_BUDGET); every round trains from scratch, without checkpoints.
KerasTuner's own state lies in <runs>/keras_tuner/<study>, reloaded to resume (overwrite=False).
"""
from __future__ import annotations

import contextlib
import io
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import keras_tuner as kt
import numpy as np
import optuna
from keras_tuner.engine.base_tuner import BaseTuner
from keras_tuner.src import config as kt_config

from pipeline.search.engines.base import Engine
from pipeline.search.objective import EPOCHS_BUDGET, Objective, StudyContext, TrialLog
from pipeline.search.options import KERAS_TUNER, STARTUP_TRIALS
from pipeline.search.outcome import outcome
from search_spaces.loader import SearchSpace

HYPERBAND_FACTOR = 3
_STATES = optuna.trial.TrialState


class HyperParametersTrial:
    """Optuna's `suggest_*` calls, as SearchSpace.suggest makes them, on KerasTuner's HyperParameters."""

    def __init__(self, hp: kt.HyperParameters) -> None:
        self.hp = hp

    def suggest_categorical(self, name: str, choices: list) -> Any:
        if len({type(c) for c in choices}) == 1 and None not in choices:
            return self.hp.Choice(name, list(choices))
        labels = {repr(c): c for c in choices}  # a KerasTuner Choice holds values of one type
        return labels[self.hp.Choice(name, list(labels))]

    def suggest_int(self, name: str, low: int, high: int, step: int = 1, log: bool = False) -> int:
        return int(self.hp.Int(name, low, high, step=None if log else step, sampling="log" if log else "linear"))

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        if step is None:
            return float(self.hp.Float(name, low, high, sampling="log" if log else "linear"))
        # KerasTuner counts grid points by float floor division (0.3 // 0.1 == 2) and would drop `high`:
        # widen by a hair, then snap the value onto Optuna's grid low + k * step.
        value = self.hp.Float(name, low, high + step * 1e-6, step=step)
        return min(max(round(low + round((value - low) / step) * step, 12), low), high)


def declare(space: SearchSpace) -> kt.HyperParameters:
    """The space's searched hyperparameters, registered in KerasTuner."""
    hp = kt.HyperParameters()
    space.suggest(HyperParametersTrial(hp))
    return hp


def make_oracle(algorithm: str, space: SearchSpace, metric: str, direction: str, seed: int) -> kt.Oracle:
    common = dict(objective=kt.Objective(metric, "max" if direction == "maximize" else "min"),
                  hyperparameters=declare(space), seed=seed + 1,  # KerasTuner takes seed 0 for "no seed"
                  max_consecutive_failed_trials=sys.maxsize)  # the tune stage's own rule stops on errors
    if algorithm == "random":
        return kt.oracles.RandomSearchOracle(**common)
    if algorithm == "hyperband":  # iterations without end: max_trials (TRIALS) bounds the search
        return kt.oracles.HyperbandOracle(max_epochs=int(space.max_value("epochs")), factor=HYPERBAND_FACTOR,
                                          hyperband_iterations=None, **common)
    if algorithm == "bayesian":
        return kt.oracles.BayesianOptimizationOracle(num_initial_points=STARTUP_TRIALS, **common)
    raise ValueError(f"unknown KerasTuner algorithm {algorithm!r}")


class _Tuner(BaseTuner):
    """Runs each KerasTuner trial as one Optuna trial through the Objective; stops on the time budget
    (ctx.deadline) or when the progress callback sets `stopped_reason`."""

    def __init__(self, oracle: kt.Oracle, study: optuna.Study, ctx: StudyContext, algorithm: str,
                 progress: Callable, **kwargs) -> None:
        self.study, self.algorithm, self.progress = study, algorithm, progress
        self.ctx = replace(ctx, trial_log=self._trial_log)
        self.study_log, self.kt_trial_id = ctx.trial_log, ""
        super().__init__(oracle, **kwargs)

    def _trial_log(self, number: int, hp: dict[str, Any], tags: dict[str, Any]) -> TrialLog:
        """The study's trial log, the trial run tagged with KerasTuner's trial id."""
        log = self.study_log(number, hp, tags)
        log.tag({"kt_trial_id": self.kt_trial_id})
        return log

    def pre_create_trial(self) -> None:
        late = self.ctx.deadline is not None and time.monotonic() > self.ctx.deadline
        if late or getattr(self.progress, "stopped_reason", None):
            self.oracle.max_trials = len(self.oracle.trials)  # the oracle answers STOPPED

    def run_trial(self, trial: kt.engine.trial.Trial, **_) -> dict[str, float]:
        try:
            return self._trial(trial)
        except kt.errors.FailedTrialError:
            raise
        except Exception as exc:  # a bug here, not in the trial: KerasTuner would swallow it and go on
            raise kt.errors.FatalError(f"{type(exc).__name__}: {exc}") from exc

    def _trial(self, trial: kt.engine.trial.Trial) -> dict[str, float]:
        values = trial.hyperparameters.values
        hp = self.ctx.space.suggest(HyperParametersTrial(trial.hyperparameters))
        attrs = {"engine": KERAS_TUNER, "kt_algorithm": self.algorithm, "kt_trial_id": trial.trial_id}
        if "tuner/epochs" in values:
            attrs |= {EPOCHS_BUDGET: int(values["tuner/epochs"]), "kt_bracket": values["tuner/bracket"],
                      "kt_round": values["tuner/round"]}
        self.study.enqueue_trial(self.ctx.space.restrict(hp), user_attrs=attrs)
        self.kt_trial_id = trial.trial_id
        frozen = self._run(self.study.ask())
        self.progress(self.study, frozen)
        if frozen.state == _STATES.COMPLETE:
            return {self.oracle.objective.name: frozen.value}
        scores = frozen.user_attrs.get("seed_scores")
        if frozen.state == _STATES.PRUNED and scores:
            return {self.oracle.objective.name: float(np.mean(scores))}
        raise kt.errors.FailedTrialError(frozen.user_attrs.get("reason", frozen.state.name))

    def _run(self, trial: optuna.Trial) -> optuna.trial.FrozenTrial:
        """The Objective on the asked trial, told to the study in the state its outcome says."""
        try:
            value = Objective(self.ctx)(trial)
        except (Exception, KeyboardInterrupt) as exc:  # the Objective has recorded the reason and closed the runs
            frozen = self.study.tell(trial, state=outcome(exc).trial_state)
            if isinstance(exc, KeyboardInterrupt):
                raise
            return frozen
        return self.study.tell(trial, value)


def search(study: optuna.Study, ctx: StudyContext, algorithm: str, trials: int, seed: int, directory: Path,
           progress: Callable[[optuna.Study, optuna.trial.FrozenTrial], None]) -> None:
    """Run `trials` new KerasTuner trials on `study` (resuming KerasTuner's state under `directory`)."""
    oracle = make_oracle(algorithm, ctx.space, ctx.problem.metric, ctx.problem.direction, seed)
    with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from ..."
        tuner = _Tuner(oracle, study, ctx, algorithm, progress, directory=str(directory),
                       project_name=study.study_name, overwrite=False)
    before = len(tuner.oracle.trials)
    tuner.oracle.max_trials = before + trials
    debug, kt_config.DEBUG = kt_config.DEBUG, False  # a failed trial's reason is in Optuna and MLflow, no traceback
    try:
        with warnings.catch_warnings():  # ask/tell runs without Optuna's heartbeats (one process)
            warnings.filterwarnings("ignore", message="Heartbeat of storage", category=UserWarning)
            tuner.search(verbose=0)
    finally:
        kt_config.DEBUG = debug
    ran = len(tuner.oracle.trials) - before
    late = ctx.deadline is not None and time.monotonic() > ctx.deadline
    if ran < trials and not late and not getattr(progress, "stopped_reason", None):
        progress.stopped_reason = (f"KerasTuner ({algorithm}) found no new configuration after {ran} of {trials} "
                                   "trials: its search space is exhausted")


class KerasTunerEngine(Engine):
    """KerasTuner picks every configuration (enqueued, so the Optuna sampler is never consulted) and sets
    the budget (no Optuna pruner), and the study has no reference trial: an enqueued reference would be
    asked in place of KerasTuner's first trial. One process per study, without heartbeats: a trial left
    RUNNING is a dead process's, failed when the study is opened."""

    name = KERAS_TUNER
    prunes = False
    reference_trial = False

    def __init__(self, algorithm: str, seed: int, directory: Path) -> None:
        self.algorithm, self.seed, self.directory = algorithm, seed, directory
        self.suffix = f"-kt-{algorithm}"
        self.attrs = {"algorithm": algorithm}

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.RandomSampler(seed=seed)

    def clear_running(self, study: optuna.Study) -> None:
        for trial in study.get_trials(deepcopy=False, states=(_STATES.RUNNING,)):
            study.tell(trial.number, state=_STATES.FAIL)

    def run(self, study: optuna.Study, ctx: StudyContext, trials: int, timeout: float | None,
            progress: Callable[[optuna.Study, optuna.trial.FrozenTrial], None]) -> None:
        """`trials` KerasTuner trials; the time budget is ctx.deadline."""
        search(study, ctx, self.algorithm, trials, self.seed, self.directory, progress)
