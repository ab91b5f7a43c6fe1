"""Candidates for the report: the studies of a problem, their top K distinct configurations (plus the
book's reference configuration), and their re-evaluation over fresh seeds, scored on the test set."""
from __future__ import annotations

import math
import sys

import numpy as np
import optuna
from tqdm import tqdm

from search_spaces import references
from pipeline.architectures import resolve
from pipeline.champion.candidate import Candidate, config_key
from pipeline.champion.record import ChampionRecord
from pipeline.training.listeners import SeedListener
from pipeline.training.multi_seed import TrainOptions, train_seeds
from pipeline.problems import Problem, Splits
from pipeline.training.one_seed import SeedRun
from search_spaces.loader import load_space

REFERENCE = "reference"

__all__ = ["REFERENCE", "Candidate", "add_champion", "evaluate_candidates", "select_candidates"]


def select_candidates(problem: Problem, studies: list[optuna.Study], top_k: int) -> list[Candidate]:
    """The top K complete trials across all studies (architectures compete), plus the reference."""
    trials = [(study, t) for study in studies for t in study.get_trials(deepcopy=False)
              if t.state == optuna.trial.TrialState.COMPLETE and "hp" in t.user_attrs]
    trials.sort(key=lambda st: st[1].value, reverse=problem.direction == "maximize")
    native = references.native(problem.name)
    ref_hp = references.reference_config(problem.name, load_space(native, problem.name))
    ref_key = config_key(native, resolve(ref_hp))
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for study, t in trials:
        arch = study.user_attrs["architecture"]
        key = config_key(arch, resolve(t.user_attrs["hp"]))
        if key in seen:
            continue
        seen.add(key)
        name = f"{arch}#{t.number}" if key != ref_key else f"{REFERENCE} ({arch}#{t.number})"
        candidates.append(Candidate(name, arch, dict(t.user_attrs["hp"]), study.study_name, t.number, t.value,
                                    trial_run=t.user_attrs.get("mlflow_run_id")))
        if len(candidates) == top_k:
            break
    if ref_key not in seen:
        candidates.append(Candidate(REFERENCE, native, ref_hp))
    return candidates


def add_champion(candidates: list[Candidate], version: str, record: ChampionRecord) -> list[Candidate]:
    """The current champion's configuration among the candidates (re-evaluated on the same seeds and test
    data as the others, so the promotion test compares like with like): marks the candidate that already
    is its configuration, or adds it as "champion v<version>"."""
    for c in candidates:
        if config_key(c.architecture, resolve(c.hp)) == config_key(record.architecture, resolve(record.hp)):
            c.champion = version
            return candidates
    return candidates + [Candidate(f"champion v{version}", record.architecture, dict(record.hp), record.study,
                                   record.trial, champion=version)]


class _TestScorer(SeedListener):
    """Scores each finished seed run on the test set, keeps the candidate's first trained model when asked,
    drops the others and advances the progress bar."""

    def __init__(self, problem: Problem, splits: Splits, candidate: Candidate, bar: tqdm, keep_model: bool) -> None:
        self.problem, self.splits, self.candidate, self.bar = problem, splits, candidate, bar
        self.keep_model = keep_model

    def finished(self, index: int, run: SeedRun) -> None:
        x, y = self.splits.x_test, self.splits.y_test
        if run.failure:  # reports.stats decides what a diverged seed scores
            self.candidate.test_scores.append(math.nan)
            self.candidate.test_losses.append(np.full(len(y), math.nan))
        else:
            pred = run.model.predict(x, batch_size=256, verbose=0)
            scores = self.problem.evaluate(run.model, x, y) if self.problem.custom_evaluate else \
                self.problem.scores(y, pred)
            self.candidate.test_scores.append(float(scores[self.problem.metric]))
            self.candidate.test_metrics.append({k: float(v) for k, v in scores.items()})
            self.candidate.test_losses.append(self.problem.item_losses(y, pred))
            if self.problem.forecasts:  # the report plots the test period and tests the forecast
                self.candidate.test_forecasts.append(self.problem.test_forecasts(pred))
            if self.keep_model and self.candidate.model is None:
                self.candidate.model = run.model
        run.model = None
        self.candidate.runs.append(run)
        self.bar.set_postfix(candidate=self.candidate.name, refresh=False)
        self.bar.update(1)


def evaluate_candidates(problem: Problem, splits: Splits, candidates: list[Candidate], seeds: list[int],
                        progress: bool, fuse: bool = True, keep_model: bool = False) -> None:
    """Train each candidate on each seed (early stopping on validation) and score it on the test set; a
    diverging seed is recorded (its score nan, its reason in the candidate's failures), not a crash.

    A candidate trains on the splits' training part unless it has its own (`train`), from new weights
    unless it has `initial_weights` (a retune's candidates); with `keep_model`, its first trained seed's
    model is kept (`model`)."""
    bar = tqdm(total=len(candidates) * len(seeds), desc="re-evaluating", unit="run", disable=not progress,
               file=sys.stderr, dynamic_ncols=True)
    for candidate in candidates:
        options = TrainOptions(keep_models=True, initial_weights=candidate.initial_weights, fuse=fuse,
                               record_failures=True)
        train = (splits.x_train, splits.y_train) if candidate.train is None else candidate.train
        train_seeds(problem, candidate.architecture, candidate.hp, seeds, train, (splits.x_val, splits.y_val),
                    listener=_TestScorer(problem, splits, candidate, bar, keep_model), options=options)
    bar.close()
