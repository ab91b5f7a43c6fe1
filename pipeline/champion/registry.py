"""The champion in the MLflow Model Registry: register a version with its record and place it
(champion, the old one becoming `previous`; or challenger), roll back, and the history of versions
and retunes."""
from __future__ import annotations

import hashlib
import json

from pipeline.champion.record import DECISION, ROLLED_BACK, ChampionRecord
from pipeline.errors import UsageError
from pipeline.settings import JobSettings
from tracking.names import experiment_name, model_name
from tracking.registry import CHALLENGER, CHAMPION, PREVIOUS, Registry

RETUNE_ROLE = "retune"  # role tag of a retune's MLflow run


REGISTRATION = "registration"  # version tag: a digest of its record without run ids (registration_key)
RUN_IDS = ("report_run", "retune_run")


def registration_key(record: ChampionRecord) -> str:
    """What a registration is, whichever run made it: a rerun of a report or retune that was killed
    computes the same record from the same seeds and data, so it finds the version the killed run made."""
    tags = {k: v for k, v in record.to_tags().items() if k not in RUN_IDS}
    return hashlib.sha256(json.dumps(tags, sort_keys=True).encode()).hexdigest()[:16]


def register(registry: Registry, name: str, model_uri: str, run_id: str, record: ChampionRecord,
             promote: bool) -> tuple[str, str]:
    """A version of `name` tagged with `record`: champion when `promote` (the old champion becomes
    `previous`), otherwise challenger. Returns (version, alias). Idempotent: the version a killed run
    registered with the same record is placed instead of a new one (the model is registered only
    after it was logged in full, so an alias never points at a half-logged model)."""
    key = registration_key(record)
    existing = registry.find_version(name, REGISTRATION, key)
    version = str(existing.version if existing else
                  registry.register(name, model_uri, run_id, record.to_tags() | {REGISTRATION: key}).version)
    if promote:
        registry.promote(name, version)
        return version, CHAMPION
    registry.set_alias(name, CHALLENGER, version)
    return version, CHALLENGER


def current_champion(tracker, problem: str) -> tuple[str, ChampionRecord] | None:
    """The champion's version and record, or None before the first registration."""
    version = Registry(tracker).alias(model_name(problem), CHAMPION)
    return None if version is None else (str(version.version), ChampionRecord.from_tags(version.tags))


def record_decision(registry: Registry, name: str, version: str, decision: str) -> None:
    """Tag a version with the sentence that decided where it went."""
    registry.set_version_tags(name, version, {DECISION: decision})


def rollback(problem: str, settings: JobSettings) -> str:
    """Swap `champion` and `previous`: the previous champion serves again (run twice to undo)."""
    registry = Registry(settings.tracker())
    name = model_name(problem)
    current, previous = registry.alias(name, CHAMPION), registry.alias(name, PREVIOUS)
    if previous is None or current is None:
        raise UsageError(f"'{name}' has no previous champion to roll back to")
    registry.set_alias(name, CHAMPION, previous.version)
    registry.set_alias(name, PREVIOUS, current.version)
    registry.set_version_tags(name, current.version, {ROLLED_BACK: "true"})
    return f"{name}: champion is v{previous.version} again (v{current.version} is now 'previous')"


def history(problem: str, settings: JobSettings) -> str:
    """Registry versions with aliases and scores, then each retune's decision."""
    tracker = settings.tracker()
    name = model_name(problem)
    versions = Registry(tracker).versions(name)
    if not versions:
        raise UsageError(f"no registered versions of '{name}' yet")
    lines = [f"{name}", f"{'version':>7}  {'aliases':<22} {'test mean ± std':>18}  {'architecture':<16} decision"]
    for v in versions:
        record = ChampionRecord.from_tags(v.tags)
        score = "—" if record.test_mean is None else f"{record.test_mean:.4f} ± {record.test_std or 0:.4f}"
        decision = record.decision or ("first registration / report" if record.report_run else "")
        lines.append(f"{v.version:>7}  {','.join(v.aliases) or '-':<22} {score:>18}  {record.architecture:<16} "
                     f"{decision}")
    experiment_id = tracker.find_experiment(experiment_name(problem))
    runs = [] if experiment_id is None else tracker.runs(experiment_id, RETUNE_ROLE, order_by=["start_time ASC"])
    if runs:
        lines.append("\nretunes:")
    for r in runs:
        champ = next((v for k, v in r.data.metrics.items() if k.startswith("champion_test_")), None)
        lines.append(f"  {r.info.run_name} {r.info.status:<8} data {r.data.tags.get('data_hash', '?')} "
                     f"champion score {champ if champ is None else round(champ, 4)}: "
                     f"{r.data.tags.get('decision') or r.data.tags.get('reason', '')}")
    return "\n".join(lines)
