"""A report's winner that may not be champion (a forecast that does not beat the naive forecast) stays a
challenger: the champion and previous aliases go back to where they were before its registration, the
version gets the challenger alias and a decision tag saying why."""
from __future__ import annotations

from dataclasses import replace

from pipeline.champion.finalize import Finalized
from pipeline.champion.registry import record_decision
from tracking.names import model_name
from tracking.registry import CHALLENGER, CHAMPION, PREVIOUS, Registry

PLACES = (CHAMPION, PREVIOUS)


def aliases(tracker, problem: str) -> dict[str, str | None]:
    """The versions the champion and previous aliases point at now (None where unset)."""
    registry, name = Registry(tracker), model_name(problem)
    return {alias: None if (v := registry.alias(name, alias)) is None else str(v.version) for alias in PLACES}


def keep_as_challenger(tracker, problem: str, finalized: Finalized, before: dict[str, str | None],
                       reason: str) -> Finalized:
    """Undo a promotion that `reason` forbids: aliases as in `before`, the new version challenger."""
    if finalized.version is None or finalized.alias != CHAMPION:
        return finalized
    registry, name = Registry(tracker), model_name(problem)
    for alias in PLACES:
        if before.get(alias) is None:
            registry.delete_alias(name, alias)
        else:
            registry.set_alias(name, alias, before[alias])
    registry.set_alias(name, CHALLENGER, finalized.version)
    decision = f"{finalized.decision}; registered as challenger, not champion: {reason}"
    record_decision(registry, name, finalized.version, decision)
    return replace(finalized, alias=CHALLENGER, decision=decision)
