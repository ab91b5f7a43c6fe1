"""Tune stage: one Optuna study per architecture/problem pair, every trial over several seeds.

pipeline.search.studies opens the studies; the engine (pipeline.search.engines) runs their trials in this
process, or worker processes share each study (pipeline.search.workers): this stage decides which. It
shares the time budget, shows progress (pipeline.search.progress) and summarizes.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from pipeline.search.options import TuneSettings
from pipeline.search.progress import Progress, count_finished
from pipeline.search.studies import PairResult, open_study, pair_result, session
from pipeline.search.workers import run_workers
from tracking.tracker import mask_credentials

__all__ = ["PairResult", "TuneResult", "TuneSettings", "format_summary", "tune"]


@dataclass
class TuneResult:
    problem: str
    metric: str
    experiment: str
    storage: str
    tracking: str
    pairs: list[PairResult]
    interrupted: bool = False
    stopped_reason: str | None = None


def tune(settings: TuneSettings) -> TuneResult:
    """Run (or continue) one study per architecture of the problem; return a summary."""
    s = session(settings)
    result = TuneResult(s.problem.name, s.problem.metric, s.experiment, mask_credentials(s.storage.url),
                        mask_credentials(s.tracker.uri), [])
    deadline = time.monotonic() + settings.timeout if settings.timeout else None
    if settings.progress:
        budget = f"{settings.timeout:.0f} s in all" if settings.timeout else "no time limit"
        print(f"tuning {s.problem.name}: {', '.join(s.architectures)}; up to {settings.trials} new trials each over "
              f"{settings.seeds} seeds, {budget}; Optuna {result.storage}, MLflow {result.tracking}",
              file=sys.stderr, flush=True)
    for index, arch in enumerate(s.architectures):
        pair = open_study(s, arch)
        timeout = None
        if deadline is not None:
            timeout = max(1.0, (deadline - time.monotonic()) / (len(s.architectures) - index))
        pair.ctx.deadline = None if timeout is None else time.monotonic() + timeout
        start = time.perf_counter()
        progress = Progress(pair.study.study_name, settings.trials, settings.progress, pair.ctx.deadline)
        try:
            with pair.run.closing():  # FINISHED, KILLED on Ctrl-C, FAILED with the reason
                if settings.workers > 1:
                    run_workers(settings, arch, count_finished(pair.study) + settings.trials, timeout, pair.study,
                                progress)
                else:
                    s.engine.run(pair.study, pair.ctx, settings.trials, timeout, progress)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            progress.close()
        result.pairs.append(pair_result(pair.study, arch, time.perf_counter() - start))
        if progress.stopped_reason:
            result.stopped_reason = progress.stopped_reason
        if result.interrupted:
            break
    return result


def format_summary(result: TuneResult) -> str:
    """A table per pair: best ± std, the reference, trial counts, time; and where to look."""
    lines = [f"\nproblem {result.problem} — metric: validation {result.metric}",
             f"{'study':<32} {'best ± std':>18} {'reference':>10} {'trial':>5} {'done':>5} {'pruned':>6} "
             f"{'failed':>6} {'time':>7}"]
    for p in result.pairs:
        best = f"{p.best_value:.4f} ± {p.best_std or 0:.4f}" if p.best_value is not None else "—"
        ref = f"{p.reference_value:.4f}" if p.reference_value is not None else "—"
        lines.append(f"{p.study_name:<32} {best:>18} {ref:>10} {str(p.best_trial):>5} {p.complete:>5} "
                     f"{p.pruned:>6} {p.failed:>6} {p.seconds:>6.0f}s")
    lines.append(f"Optuna storage: {result.storage}")
    lines.append(f"MLflow: {result.tracking}, experiment '{result.experiment}' (make ui)")
    if result.stopped_reason:
        lines.append(f"stopped: {result.stopped_reason}")
    if result.interrupted:
        lines.append("interrupted: finished trials are kept; rerun the same command to continue")
    return "\n".join(lines)
