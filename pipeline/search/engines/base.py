"""What an engine is: the small strategy object a library's search is wrapped in (pipeline.search.engines)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import optuna

    from pipeline.search.objective import StudyContext


class Engine:
    """How one library searches a pair's study."""

    name: str  # the study's "engine" user attr and tag
    suffix: str = ""  # appended to the study name: each engine and algorithm keeps its own study
    prunes: bool = True  # the study uses the chosen Optuna pruner (else none: the engine sets the budget)
    reference_trial: bool = True  # a new study starts with the book's configuration (enqueued)
    attrs: dict[str, Any] = {}  # more study user attrs (and parent-run params), e.g. the algorithm

    def sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def clear_running(self, study: optuna.Study) -> None:
        """Settle trials left RUNNING when the study is opened (beyond Optuna's stale heartbeats)."""

    def run(self, study: optuna.Study, ctx: StudyContext, trials: int, timeout: float | None,
            progress: Callable[[optuna.Study, optuna.trial.FrozenTrial], None]) -> None:
        """Run `trials` new trials on `study` in this process, calling `progress` after each."""
        raise NotImplementedError
